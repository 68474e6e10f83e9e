package component

import (
	"context"
	"log/slog"
	"net/http"

	"google.golang.org/grpc"

	"robustmq/server/config"
	"robustmq/server/node/listener"
)

// Component is one part of a node with a start/stop life; see the package doc for the contract.
type Component interface {
	// Name is the short name used in logs and step lines, e.g. "meta", "engine", "broker".
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Router registers admin HTTP routes. Patterns are net/http ServeMux patterns with a method, e.g.
// "GET /api/mqtt/session/list". Handlers answer in the admin envelope (see package server/admin) and
// are behind the admin server's authentication.
type Router interface {
	HandleFunc(pattern string, h func(http.ResponseWriter, *http.Request))
}

// Env is what the node hands every constructor.
type Env struct {
	Config    *config.Config
	Logger    *slog.Logger // already carries component=<name>
	Listeners *listener.Registry
	HTTP      Router
	GRPC      grpc.ServiceRegistrar // the inner gRPC server; register during New only
	// SetHealth sets the gRPC health status of one of the component's services (by full service name,
	// e.g. "robustmq.meta.v1.MetaService"); services start NOT_SERVING.
	SetHealth func(service string, serving bool)
	// Storage is the node's storage slot, shared by all its components: the engine role fills it,
	// the broker reads it (see Storage). nil behaves as an empty slot.
	Storage *Storage
}

// New builds the component of one role.
type New func(env Env) (Component, error)
