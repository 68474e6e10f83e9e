package kafka

import "robustmq/codec/kafka"

// IncrementalAlterConfigs v0-v1: operation 0 SET, 1 DELETE; APPEND (2) and
// SUBTRACT (3) apply to list configs, and no supported topic config is a
// list with more than one allowed value, so they are INVALID_REQUEST.

func init() {
	register(44, 0, 1, func(s *Server, c *conn, sl *slot, m kafka.Message) error {
		req := m.(*kafka.IncrementalAlterConfigsRequest)
		resp := &kafka.IncrementalAlterConfigsResponse{}
		for _, r := range req.Resources {
			var ops []configOp
			code, msg := kafka.None, ""
			for _, cf := range r.Configs {
				switch cf.ConfigOperation {
				case 0:
					v := cf.Value
					if v == nil {
						v = []byte{}
					}
					ops = append(ops, configOp{string(cf.Name), v})
				case 1:
					ops = append(ops, configOp{string(cf.Name), nil})
				default:
					code, msg = kafka.InvalidRequest, "APPEND and SUBTRACT are not supported for "+string(cf.Name)
				}
			}
			if code == kafka.None {
				code, msg = s.alterTopic(r.ResourceType, r.ResourceName, ops, false, req.ValidateOnly)
			}
			countErr(44, code)
			out := kafka.IncrementalAlterConfigsResponseResult{ErrorCode: int16(code), ResourceType: r.ResourceType,
				ResourceName: r.ResourceName}
			if msg != "" {
				out.ErrorMessage = []byte(msg)
			}
			resp.Responses = append(resp.Responses, out)
		}
		c.reply(sl, resp)
		return nil
	})
}
