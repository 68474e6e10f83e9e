//go:build tools

package robustmq

import (
	_ "github.com/IBM/sarama"
	_ "github.com/VictoriaMetrics/metrics"
	_ "github.com/bytedance/sonic"
	_ "github.com/cockroachdb/datadriven"
	_ "github.com/cockroachdb/pebble/v2"
	_ "github.com/coder/websocket"
	_ "github.com/eclipse/paho.golang/paho"
	_ "github.com/eclipse/paho.mqtt.golang"
	_ "github.com/nats-io/nats.go"
	_ "github.com/panjf2000/gnet/v2"
	_ "github.com/pelletier/go-toml/v2"
	_ "github.com/rabbitmq/amqp091-go"
	_ "github.com/twmb/franz-go/pkg/kgo"
	_ "github.com/valyala/bytebufferpool"
	_ "go.etcd.io/raft/v3"
	_ "google.golang.org/grpc"
	_ "google.golang.org/grpc/health"
	_ "google.golang.org/grpc/reflection"
	_ "google.golang.org/protobuf/proto"
	_ "golang.org/x/sys/unix"
)
