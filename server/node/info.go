package node

import (
	"net"
	"runtime"
	"strconv"

	"robustmq/server/pb"
)

// Info is what GET /api/info and NodeService.GetNodeInfo report.
type Info struct {
	Version   string   `json:"version"`
	Commit    string   `json:"commit"`
	GoVersion string   `json:"go_version"`
	BrokerID  uint64   `json:"broker_id"`
	StartTime int64    `json:"start_time"` // unix seconds
	Roles     []string `json:"roles"`
	Ready     bool     `json:"ready"`
	ClusterInfo
	Listeners []ListenerInfo `json:"listeners"`
}

// ClusterInfo is what GET /api/cluster/info reports. Until the Meta Service tracks membership, nodes
// lists this node only and meta_addrs says where the meta nodes are.
type ClusterInfo struct {
	ClusterName string            `json:"cluster_name"`
	Nodes       []NodeInfo        `json:"nodes"`
	MetaAddrs   map[string]string `json:"meta_addrs"`
	Components  []ComponentInfo   `json:"components"`
}

// NodeInfo is one member of the cluster.
type NodeInfo struct {
	NodeID   uint64   `json:"node_id"`
	NodeIP   string   `json:"node_ip"`
	GRPCAddr string   `json:"grpc_addr"`
	HTTPAddr string   `json:"http_addr"`
	Roles    []string `json:"roles"`
}

// ComponentInfo is the state of one configured role: "not started", "starting", "running", "stopped",
// "failed" or "not built yet".
type ComponentInfo struct {
	Role   string `json:"role"`
	Status string `json:"status"`
}

// ListenerInfo is one port: every port the configuration binds for this node's roles (with its
// configured address: a wildcard bind shows as 0.0.0.0, not as Go's dual-stack [::]), plus any other
// registered one (with its bound address). Status is "accepting", "closed" (registered but no longer accepting) or "not bound"
// (its component has not bound it: not started, stopped, or not built yet).
type ListenerInfo struct {
	Name   string `json:"name"`
	Key    string `json:"key,omitempty"` // config key of the port
	Addr   string `json:"addr"`
	Status string `json:"status"`
}

// Info reports the node's current state. Safe for concurrent use.
func (n *Node) Info() Info {
	ready, _ := n.Ready()
	i := Info{
		Version: Version, Commit: CommitID(), GoVersion: runtime.Version(),
		BrokerID: n.cfg.BrokerID, StartTime: n.startAt.Unix(), Roles: n.cfg.Roles, Ready: ready,
		ClusterInfo: ClusterInfo{
			ClusterName: n.cfg.ClusterName,
			MetaAddrs:   n.cfg.MetaAddrs,
			Nodes: []NodeInfo{{
				NodeID: n.cfg.BrokerID, NodeIP: n.ip, Roles: n.cfg.Roles,
				GRPCAddr: net.JoinHostPort(n.ip, strconv.Itoa(n.cfg.GRPCPort)),
				HTTPAddr: net.JoinHostPort(n.ip, strconv.Itoa(n.cfg.HTTPPort)),
			}},
		},
	}
	for _, st := range n.steps {
		if st.role != "" {
			i.Components = append(i.Components, ComponentInfo{Role: st.name, Status: *st.status.Load()})
		}
	}
	probes := n.reg.List()
	used := make([]bool, len(probes))
	for _, spec := range n.cfg.Listeners() {
		li := ListenerInfo{Name: spec.Name, Key: spec.Key, Addr: spec.Addr, Status: "not bound"}
		for j, p := range probes {
			if p.Name() == spec.Name {
				li.Status, used[j] = probeStatus(p.Accepting()), true
			}
		}
		i.Listeners = append(i.Listeners, li)
	}
	for j, p := range probes {
		if !used[j] {
			i.Listeners = append(i.Listeners, ListenerInfo{Name: p.Name(), Addr: p.BoundAddr(), Status: probeStatus(p.Accepting())})
		}
	}
	return i
}

func probeStatus(accepting bool) string {
	if accepting {
		return "accepting"
	}
	return "closed"
}

// pbInfo is Info for NodeService.GetNodeInfo.
func (n *Node) pbInfo() *pb.NodeInfo {
	i := n.Info()
	out := &pb.NodeInfo{
		Version: i.Version, Commit: i.Commit, GoVersion: i.GoVersion, ClusterName: i.ClusterName,
		BrokerId: i.BrokerID, StartTime: i.StartTime, Roles: i.Roles, Ready: i.Ready,
	}
	for _, x := range i.Nodes {
		out.Nodes = append(out.Nodes, &pb.Node{
			NodeId: x.NodeID, NodeIp: x.NodeIP, GrpcAddr: x.GRPCAddr, HttpAddr: x.HTTPAddr, Roles: x.Roles,
		})
	}
	for _, c := range i.Components {
		out.Components = append(out.Components, &pb.Component{Role: c.Role, Status: c.Status})
	}
	for _, l := range i.Listeners {
		out.Listeners = append(out.Listeners, &pb.Listener{Name: l.Name, Key: l.Key, Addr: l.Addr, Status: l.Status})
	}
	return out
}
