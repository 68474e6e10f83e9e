package broker

// Schema validation ([mqtt_runtime.schema], server/message/schema): the
// registry the hub's Check hook uses, its admin routes, and its
// persistence in the Meta Service.
//
// Routes (RobustMQ's paths and JSON fields):
//
//	GET  /api/mqtt/schema/list          schemas (name, schema_type, desc, schema); paged
//	POST /api/mqtt/schema/create        {"schema_name", "schema_type": json|avro, "schema", "desc"}
//	POST /api/mqtt/schema/delete        {"schema_name"}: 409 while bound
//	GET  /api/mqtt/schema-bind/list     bindings (schema_name, resource_name); paged
//	POST /api/mqtt/schema-bind/create   {"schema_name", "resource_name"}: a topic or MQTT filter
//	POST /api/mqtt/schema-bind/delete   {"schema_name", "resource_name"}
//
// Schemas and bindings are kept in the Meta Service's KV (namespaces
// mqtt.schema: name -> schema JSON, mqtt.schema-bind: resource NUL schema
// -> ""). Every broker loads them at start and reloads them whenever the
// metadata group changes (Watch), so a change made through one broker
// reaches the others. Without meta (tests) they live in memory.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bytedance/sonic"

	"robustmq/server/admin"
	"robustmq/server/config"
	"robustmq/server/message/schema"
	metaclient "robustmq/server/meta/client"
	"robustmq/server/node/component"
	"robustmq/server/pb"
)

// Meta KV namespaces of schemas and bindings.
const (
	nsSchema     = "mqtt.schema"
	nsSchemaBind = "mqtt.schema-bind"
)

// schemas is the broker's schema registry, replaced whole on reload.
type schemas struct {
	opts schema.Options
	cur  atomic.Pointer[schema.Registry]
	log  *slog.Logger
}

func newSchemas(cfg *config.MQTTSchemaConfig, log *slog.Logger) *schemas {
	o := schema.Options{Logger: log, EchoLog: cfg.EchoLog}
	if cfg.Strategy == "Any" {
		o.Strategy = schema.Any
	}
	switch cfg.FailedOperation {
	case "DisconnectAndDiscard":
		o.OnFailure = schema.DisconnectAndDiscard
	case "Ignore":
		o.OnFailure = schema.Ignore
	}
	_ = o.LogLevel.UnmarshalText([]byte(cfg.LogLevel)) // validated by config; default info
	s := &schemas{opts: o, log: log}
	s.cur.Store(schema.New(o))
	return s
}

// Check is the hub's Options.Check.
func (s *schemas) Check(topic, payload []byte) error { return s.cur.Load().Check(topic, payload) }

// reload rebuilds the registry from the Meta Service. Records that no
// longer compile or bind are skipped with a warning.
func (s *schemas) reload(ctx context.Context, meta *metaclient.Client) error {
	defs, err := listKV(ctx, meta, nsSchema)
	if err != nil {
		return err
	}
	binds, err := listKV(ctx, meta, nsSchemaBind)
	if err != nil {
		return err
	}
	r := schema.New(s.opts)
	for _, kv := range defs {
		var sc schema.Schema
		if err := sonic.Unmarshal(kv.GetValue(), &sc); err == nil {
			err = r.Create(sc)
		}
		if err != nil {
			s.log.Warn("broker: schema skipped", "schema", string(kv.GetKey()), "err", err)
		}
	}
	for _, kv := range binds {
		res, name, _ := strings.Cut(string(kv.GetKey()), "\x00")
		if err := r.Bind(schema.Binding{Schema: name, Resource: res}); err != nil {
			s.log.Warn("broker: schema binding skipped", "schema", name, "resource", res, "err", err)
		}
	}
	s.cur.Store(r)
	return nil
}

func listKV(ctx context.Context, meta *metaclient.Client, ns string) ([]*pb.KVPair, error) {
	return listTable(ctx, meta, pb.Space_SPACE_KV, ns, nil)
}

// listTable returns the pairs of table in space under prefix (nil: all),
// through any meta node.
func listTable(ctx context.Context, meta *metaclient.Client, space pb.Space, table string, prefix []byte) ([]*pb.KVPair, error) {
	var list *pb.KVList
	err := meta.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		list, err = api.List(ctx, &pb.KVRequest{Space: space, Table: table, Key: prefix})
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("broker: list meta %s table %q: %w", space, table, err)
	}
	return list.GetItems(), nil
}

// getMQTT reads key of MQTT table table, through any meta node.
func getMQTT(ctx context.Context, meta *metaclient.Client, table string, key []byte) (value []byte, found bool, err error) {
	var got *pb.KVValue
	err = meta.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		got, err = api.Get(ctx, &pb.KVRequest{Space: pb.Space_SPACE_MQTT, Table: table, Key: key})
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("broker: read mqtt table %q key %q: %w", table, key, err)
	}
	return got.GetValue(), got.GetFound(), nil
}

// watch reloads the registry whenever the metadata group changes, until
// ctx ends.
func (s *schemas) watch(ctx context.Context, meta *metaclient.Client) {
	for ctx.Err() == nil {
		err := meta.Watch(ctx, "metadata", func(uint64, bool) {
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := s.reload(rctx, meta); err != nil && ctx.Err() == nil {
				s.log.Warn("broker: schema reload failed", "err", err)
			}
		})
		if ctx.Err() == nil {
			s.log.Warn("broker: schema watch ended; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}
}

func (b *Broker) registerSchemaAdmin(r component.Router) {
	r.HandleFunc("GET /api/mqtt/schema/list", func(w http.ResponseWriter, r *http.Request) {
		admin.WritePage(w, r, b.schemas.cur.Load().Schemas())
	})
	r.HandleFunc("GET /api/mqtt/schema-bind/list", func(w http.ResponseWriter, r *http.Request) {
		admin.WritePage(w, r, b.schemas.cur.Load().Bindings())
	})
	r.HandleFunc("POST /api/mqtt/schema/create", b.schemaCreate)
	r.HandleFunc("POST /api/mqtt/schema/delete", b.schemaDelete)
	r.HandleFunc("POST /api/mqtt/schema-bind/create", func(w http.ResponseWriter, r *http.Request) { b.schemaBind(w, r, true) })
	r.HandleFunc("POST /api/mqtt/schema-bind/delete", func(w http.ResponseWriter, r *http.Request) { b.schemaBind(w, r, false) })
}

// schemaFail answers a registry error with its HTTP status.
func schemaFail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, schema.ErrInvalid):
		status = http.StatusBadRequest
	case errors.Is(err, schema.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, schema.ErrExists), errors.Is(err, schema.ErrInUse):
		status = http.StatusConflict
	}
	admin.Fail(w, status, err.Error())
}

// metaPut writes (or, with a nil value, deletes) key in namespace ns when
// the broker has a Meta Service.
func (b *Broker) metaPut(ctx context.Context, ns, key string, value []byte) error {
	b.mu.Lock()
	meta := b.meta
	b.mu.Unlock()
	if meta == nil {
		return nil
	}
	return writeKV(ctx, meta, &pb.KVRequest{Space: pb.Space_SPACE_KV, Table: ns, Key: []byte(key), Value: value})
}

// writeKV puts req's key, or deletes it when req.Value is nil, through any
// meta node.
func writeKV(ctx context.Context, meta *metaclient.Client, req *pb.KVRequest) error {
	return meta.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) (err error) {
		if req.Value == nil {
			_, err = api.Delete(ctx, req)
		} else {
			_, err = api.Put(ctx, req)
		}
		return err
	})
}

func (b *Broker) schemaCreate(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"schema_name"`
		Type string `json:"schema_type"`
		Def  string `json:"schema"`
		Desc string `json:"desc"`
	}
	if !admin.ReadJSON(w, r, 64<<10, &req) {
		return
	}
	sc := schema.Schema{Name: req.Name, Type: req.Type, Desc: req.Desc, Definition: req.Def}
	reg := b.schemas.cur.Load()
	if err := reg.Create(sc); err != nil {
		schemaFail(w, err)
		return
	}
	v, _ := sonic.Marshal(sc)
	if err := b.metaPut(r.Context(), nsSchema, sc.Name, v); err != nil {
		_ = reg.Delete(sc.Name)
		admin.Fail(w, http.StatusServiceUnavailable, "broker: save schema: "+err.Error())
		return
	}
	admin.OK(w, "Created successfully!")
}

func (b *Broker) schemaDelete(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name string `json:"schema_name"`
	}
	if !admin.ReadJSON(w, r, maxAdminBody, &req) {
		return
	}
	if err := b.schemas.cur.Load().Delete(req.Name); err != nil {
		schemaFail(w, err)
		return
	}
	if err := b.metaPut(r.Context(), nsSchema, req.Name, nil); err != nil {
		admin.Fail(w, http.StatusServiceUnavailable, "broker: delete schema: "+err.Error())
		return
	}
	admin.OK(w, "Deleted successfully!")
}

func (b *Broker) schemaBind(w http.ResponseWriter, r *http.Request, bind bool) {
	var req schema.Binding
	if !admin.ReadJSON(w, r, maxAdminBody, &req) {
		return
	}
	reg := b.schemas.cur.Load()
	key := req.Resource + "\x00" + req.Schema
	var err error
	if bind {
		if err = reg.Bind(req); err == nil {
			if err = b.metaPut(r.Context(), nsSchemaBind, key, []byte{}); err != nil {
				_ = reg.Unbind(req)
			}
		}
	} else if err = reg.Unbind(req); err == nil {
		err = b.metaPut(r.Context(), nsSchemaBind, key, nil)
	}
	switch {
	case err == nil && bind:
		admin.OK(w, "Created successfully!")
	case err == nil:
		admin.OK(w, "Deleted successfully!")
	case errors.Is(err, schema.ErrInvalid), errors.Is(err, schema.ErrNotFound), errors.Is(err, schema.ErrExists):
		schemaFail(w, err)
	default:
		admin.Fail(w, http.StatusServiceUnavailable, "broker: save schema binding: "+err.Error())
	}
}
