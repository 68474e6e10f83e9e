package kafka

import (
	"strconv"

	"robustmq/codec/kafka"
)

// DescribeConfigs v0-v4: topic resources list every supported topic
// config (configs.go) with its value and source (1 topic, 5 default);
// the broker resource lists a few read-only broker settings.

func init() { register(32, 0, 4, serveDescribeConfigs) }

func serveDescribeConfigs(s *Server, c *conn, sl *slot, m kafka.Message) error {
	req := m.(*kafka.DescribeConfigsRequest)
	resp := &kafka.DescribeConfigsResponse{}
	for _, r := range req.Resources {
		out := kafka.DescribeConfigsResponseResult{ResourceType: r.ResourceType, ResourceName: r.ResourceName}
		wanted := func(name string) bool {
			if r.ConfigurationKeys == nil {
				return true
			}
			for _, k := range r.ConfigurationKeys {
				if string(k) == name {
					return true
				}
			}
			return false
		}
		add := func(name, value string, source int8, readOnly bool) {
			if !wanted(name) {
				return
			}
			out.Configs = append(out.Configs, kafka.DescribeConfigsResponseResultConfig{Name: []byte(name),
				Value: []byte(value), ReadOnly: readOnly, IsDefault: source == 5, ConfigSource: source, ConfigType: 2})
		}
		switch r.ResourceType {
		case resourceTopic:
			t := s.topics.get(r.ResourceName)
			if t == nil {
				out.ErrorCode = int16(kafka.UnknownTopicOrPartition)
				break
			}
			for _, d := range s.configDefs() {
				if v, ok := t.configs[d.name]; ok {
					add(d.name, v, 1, false)
				} else {
					add(d.name, d.def, 5, false)
				}
			}
		case resourceBroker:
			add("auto.create.topics.enable", strconv.FormatBool(s.opts.AutoCreate), 4, true)
			add("num.partitions", strconv.Itoa(int(s.opts.DefaultPartitions)), 4, true)
			add("message.max.bytes", strconv.Itoa(s.opts.MaxMessageBytes), 4, true)
			add("advertised.listeners", "PLAINTEXT://"+string(c.advertisedHost())+":"+strconv.Itoa(int(s.port.Load())), 4, true)
		default:
			out.ErrorCode = int16(kafka.InvalidRequest)
			out.ErrorMessage = []byte("resource type " + strconv.Itoa(int(r.ResourceType)) + " has no configs here")
		}
		countErr(32, kafka.ErrorCode(out.ErrorCode))
		resp.Results = append(resp.Results, out)
	}
	c.reply(sl, resp)
	return nil
}
