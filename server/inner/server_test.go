package inner

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	refpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"robustmq/server/node/listener"
	"robustmq/server/pb"
)

func startServer(t *testing.T, reg *listener.Registry) (*Server, *grpc.ClientConn) {
	t.Helper()
	s := New(Options{Addr: "127.0.0.1:0", Listeners: reg, Info: func() *pb.NodeInfo {
		return &pb.NodeInfo{Version: "v-test", ClusterName: "c1", BrokerId: 7, Roles: []string{"broker"}}
	}})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	cc, err := grpc.NewClient(s.Addr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return s, cc
}

func healthOf(t *testing.T, cc *grpc.ClientConn, service string) healthpb.HealthCheckResponse_ServingStatus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		t.Fatalf("Health.Check(%q): %v", service, err)
	}
	return resp.Status
}

func TestServer(t *testing.T) {
	var reg listener.Registry
	s, cc := startServer(t, &reg)
	if ok, _ := reg.Accepting(); !ok || len(reg.List()) != 1 || reg.List()[0].Name() != "grpc" {
		t.Fatalf("registry after Start: %v; want one accepting grpc probe", reg.List())
	}
	nodeSvc := pb.NodeService_ServiceDesc.ServiceName
	for _, svc := range []string{"", nodeSvc} {
		if st := healthOf(t, cc, svc); st != healthpb.HealthCheckResponse_NOT_SERVING {
			t.Fatalf("before ready: health(%q) = %v; want NOT_SERVING", svc, st)
		}
	}
	s.SetServing(true)
	for _, svc := range []string{"", nodeSvc} {
		if st := healthOf(t, cc, svc); st != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("after SetServing(true): health(%q) = %v; want SERVING", svc, st)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := pb.NewNodeServiceClient(cc).GetNodeInfo(ctx, &pb.GetNodeInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if i := resp.GetInfo(); i.GetVersion() != "v-test" || i.GetBrokerId() != 7 || i.GetClusterName() != "c1" {
		t.Fatalf("GetNodeInfo = %v", i)
	}
	calls := metrics.GetOrCreateCounter(`robustmq_grpc_requests_total{method="/robustmq.inner.v1.NodeService/GetNodeInfo",code="OK"}`)
	if calls.Get() != 1 {
		t.Fatalf("GetNodeInfo OK calls counted = %d; want 1", calls.Get())
	}

	services := listServices(t, cc)
	for _, want := range []string{nodeSvc, "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %v; missing %s", services, want)
		}
	}

	if err := s.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(reg.List()) != 0 {
		t.Fatalf("registry after Stop: %v; want empty", reg.List())
	}
}

func listServices(t *testing.T, cc *grpc.ClientConn) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	stream, err := refpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&refpb.ServerReflectionRequest{
		MessageRequest: &refpb.ServerReflectionRequest_ListServices{},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range r.GetListServicesResponse().GetService() {
		out = append(out, s.GetName())
	}
	return out
}

// A call that outlives the stop bound is cut: Stop returns the bound's error instead of hanging.
func TestStopBounded(t *testing.T) {
	s, cc := startServer(t, nil)
	watch, err := healthpb.NewHealthClient(cc).Watch(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil { // the stream is open on the server
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Stop(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Stop with an open stream past its bound = %v; want DeadlineExceeded", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return within 10s of a 200ms bound")
	}
}
