package config_test

import (
	"fmt"

	"robustmq/server/config"
)

// A bad value stops the start with one line per problem, each naming its key
// (testdata/bad.toml sets grpc_port = 70000 and misspells tcp_port).
func ExampleLoad() {
	env := []string{"ROBUST_MQ_SERVER_KAFKA_RUNTIME_TCP_PORT=1883"}
	_, _, err := config.Load("testdata/bad.toml", env)
	fmt.Println(err)
	// Output:
	// config: mqtt_runtime.server.tcp_prot: unknown key (testdata/bad.toml:5:1)
	// config: grpc_port: 70000 is not a port (1..65535) (testdata/bad.toml:2:1)
	// config: kafka_runtime.tcp_port: port 1883 is also mqtt_runtime.server.tcp_port (env ROBUST_MQ_SERVER_KAFKA_RUNTIME_TCP_PORT)
}
