package kafka

import "robustmq/codec/kafka"

// DescribeGroups v0-v6: state, protocol and members (with their metadata
// for the chosen protocol and their assignment). An unknown group is
// reported as Dead without members, and from v6 with GROUP_ID_NOT_FOUND
// (KIP-1043), as Kafka does.

func init() {
	register(15, 0, 6, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.DescribeGroupsRequest)
		resp := &kafka.DescribeGroupsResponse{}
		for _, id := range req.Groups {
			out := kafka.DescribeGroupsResponseGroup{GroupID: id, GroupState: []byte("Dead"), ProtocolType: []byte{},
				ProtocolData: []byte{}, AuthorizedOperations: -2147483648}
			v, ok := s.groups.view(string(id))
			if !ok && sl.version >= 6 {
				out.ErrorCode, out.ErrorMessage = int16(kafka.GroupIDNotFound), []byte("group "+string(id)+" does not exist")
				countErr(15, kafka.GroupIDNotFound)
			}
			if ok {
				out.GroupState, out.ProtocolType, out.ProtocolData = []byte(v.state), []byte(v.protocolType), []byte(v.protocol)
				for _, mb := range v.members {
					dm := kafka.DescribeGroupsResponseGroupMember{MemberID: []byte(mb.id), ClientID: []byte(mb.clientID),
						ClientHost: []byte(mb.host), MemberAssignment: mb.assignment, MemberMetadata: []byte{}}
					if mb.instanceID != "" {
						dm.GroupInstanceID = []byte(mb.instanceID)
					}
					for _, p := range mb.protocols {
						if p.name == v.protocol {
							dm.MemberMetadata = p.meta
						}
					}
					if dm.MemberAssignment == nil {
						dm.MemberAssignment = []byte{}
					}
					out.Members = append(out.Members, dm)
				}
			}
			resp.Groups = append(resp.Groups, out)
		}
		c.reply(sl, resp)
		return nil
	})
}
