package inner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"robustmq/server/node/listener"
	"robustmq/server/pb"
)

// Options configure the inner gRPC server.
type Options struct {
	Addr      string             // bind address, host:port
	Logger    *slog.Logger       // default slog.Default()
	Listeners *listener.Registry // the server registers its port here as "grpc"
	// Info returns what NodeService.GetNodeInfo answers. It is called on gRPC's goroutines.
	Info func() *pb.NodeInfo
}

// Server is the inner gRPC server. It implements component.Component.
type Server struct {
	o      Options
	log    *slog.Logger
	grpc   *grpc.Server
	health *health.Server
	ln     *listener.Listener // set by Start
	done   chan struct{}      // closed when the serving goroutine returns
}

// New builds the server with health, reflection and NodeService registered; Start binds the port.
func New(o Options) *Server {
	s := &Server{o: o, log: o.Logger, health: health.NewServer()}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.grpc = grpc.NewServer(grpc.ChainUnaryInterceptor(countUnary), grpc.ChainStreamInterceptor(countStream))
	healthpb.RegisterHealthServer(s.grpc, s.health)
	pb.RegisterNodeServiceServer(s.grpc, nodeService{info: o.Info})
	reflection.Register(s.grpc)
	s.SetServing(false)
	return s
}

// Registrar is where components register their gRPC services. REQUIRES: called before Start.
func (s *Server) Registrar() grpc.ServiceRegistrar { return s.grpc }

// SetServing sets the overall and NodeService health status.
func (s *Server) SetServing(ok bool) {
	s.SetHealth("", ok)
	s.SetHealth(pb.NodeService_ServiceDesc.ServiceName, ok)
}

// SetHealth sets the health status of one service ("" is the whole server). After Stop it has no
// effect: everything stays NOT_SERVING.
func (s *Server) SetHealth(service string, serving bool) {
	st := healthpb.HealthCheckResponse_NOT_SERVING
	if serving {
		st = healthpb.HealthCheckResponse_SERVING
	}
	s.health.SetServingStatus(service, st)
}

// Name implements component.Component.
func (s *Server) Name() string { return "grpc" }

// Addr is the bound address after Start, else the configured one.
func (s *Server) Addr() string {
	if s.ln != nil {
		return s.ln.BoundAddr()
	}
	return s.o.Addr
}

// Start binds the port and serves on a goroutine that Stop waits for.
func (s *Server) Start(context.Context) error {
	ln, err := listener.Bind("grpc", s.o.Addr, s.o.Listeners)
	if err != nil {
		return fmt.Errorf("inner: %w", err)
	}
	s.ln = ln
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.grpc.Serve(s.ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			s.log.Error("serve stopped", "listener", "grpc", "addr", s.ln.BoundAddr(), "err", err)
		}
	}()
	return nil
}

// Stop marks the server NOT_SERVING, closes the listener, lets running calls finish until ctx expires,
// then cancels the rest.
func (s *Server) Stop(ctx context.Context) error {
	if s.done == nil {
		return nil // never started
	}
	s.health.Shutdown()
	if s.o.Listeners != nil {
		s.o.Listeners.Remove("grpc")
	}
	graceful := make(chan struct{})
	go func() {
		s.grpc.GracefulStop()
		close(graceful)
	}()
	var err error
	select {
	case <-graceful:
	case <-ctx.Done():
		s.grpc.Stop()
		<-graceful
		err = fmt.Errorf("inner: grpc: stop: %w", ctx.Err())
	}
	<-s.done
	return err
}

// nodeService implements robustmq.inner.v1.NodeService.
type nodeService struct {
	pb.UnimplementedNodeServiceServer
	info func() *pb.NodeInfo
}

func (n nodeService) GetNodeInfo(context.Context, *pb.GetNodeInfoRequest) (*pb.GetNodeInfoResponse, error) {
	return &pb.GetNodeInfoResponse{Info: n.info()}, nil
}

func countUnary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	resp, err := h(ctx, req)
	count(info.FullMethod, err)
	return resp, err
}

func countStream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	count(info.FullMethod, err)
	return err
}

func count(method string, err error) {
	metrics.GetOrCreateCounter(`robustmq_grpc_requests_total{method="` + method + `",code="` +
		status.Code(err).String() + `"}`).Inc()
}
