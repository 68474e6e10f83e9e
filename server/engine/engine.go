package engine

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"robustmq/segment"
	"robustmq/server/admin"
	"robustmq/server/node/component"
	"robustmq/shard"
	"robustmq/shard/memory"
	"robustmq/shard/offsetstore"
	"robustmq/shard/pebblestore"
)

// ErrDataPath marks a Start that failed on a storage directory; the message names
// storage_runtime.data_path and the directory.
var ErrDataPath = errors.New("engine: storage_runtime.data_path")

// Subdirectories of the data path; see the package doc.
const (
	dirSegment = "segment"
	dirPebble  = "pebble"
	dirOffsets = "offsets"
)

// truncated is the segment engine's process-wide count of bytes cut by recovery; Start logs its
// growth across the segment engine's Open.
var truncated = metrics.GetOrCreateCounter(`robustmq_storage_segment_truncated_bytes_total`)

// Engine is the component. Create it with New.
type Engine struct {
	env component.Env

	mu      sync.RWMutex       // guards the two below for the admin handlers
	router  *shard.Router      // nil unless running
	offsets *offsetstore.Store // nil unless running
}

// New is the component.New of the engine role.
func New(env component.Env) (component.Component, error) {
	e := &Engine{env: env}
	if env.HTTP != nil {
		env.HTTP.HandleFunc("GET /api/storage-engine/shard/list", e.listGet)
		env.HTTP.HandleFunc("POST /api/storage-engine/shard/list", e.listPost)
	}
	return e, nil
}

// Name implements component.Component.
func (e *Engine) Name() string { return "engine" }

// Start implements component.Component; see the package doc.
func (e *Engine) Start(ctx context.Context) error {
	cfg := &e.env.Config.StorageRuntime
	log := e.env.Logger
	if len(cfg.DataPath) == 0 {
		return fmt.Errorf("%w: empty", ErrDataPath)
	}
	root := cfg.DataPath[0]
	// The engines' errors name their directory; this names the config key.
	pathErr := func(err error) error { return fmt.Errorf("%w[0] %q: %w", ErrDataPath, root, err) }
	if len(cfg.DataPath) > 1 { // segment shards may live on any of them
		pathErr = func(err error) error { return fmt.Errorf("%w %q: %w", ErrDataPath, cfg.DataPath, err) }
	}

	t0 := time.Now()
	cut0 := truncated.Get()
	segDirs := make([]string, 0, len(cfg.DataPath)-1)
	for _, p := range cfg.DataPath[1:] {
		segDirs = append(segDirs, filepath.Join(p, dirSegment))
	}
	seg, err := segment.Open(segment.Options{
		Dir: filepath.Join(root, dirSegment), Dirs: segDirs, Workers: cfg.IOThreadNum, SegmentBytes: cfg.MaxSegmentSize,
		Logger: log, Decoder: DecodeKafka,
	})
	if err != nil {
		return pathErr(err)
	}
	segTook := time.Since(t0)
	engines := []shard.Engine{seg}
	closeAll := func() {
		for _, en := range slices.Backward(engines) {
			_ = en.Close()
		}
	}
	if err := ctx.Err(); err != nil {
		closeAll()
		return fmt.Errorf("engine: start: %w", err)
	}
	peb, err := pebblestore.Open(filepath.Join(root, dirPebble), pebblestore.Options{Logger: log, Decoder: DecodeKafka})
	if err != nil {
		closeAll()
		return pathErr(err)
	}
	engines = append(engines, peb, memory.New(memory.Options{Logger: log, Decoder: DecodeKafka}))
	r, err := shard.NewRouter(engines, shard.RouterOptions{DefaultEngine: shard.EngineSegment, Logger: log})
	if err != nil {
		closeAll()
		return fmt.Errorf("engine: router: %w", err)
	}
	offs, err := offsetstore.Open(filepath.Join(root, dirOffsets), offsetstore.Options{Logger: log})
	if err != nil {
		_ = r.Close()
		return pathErr(err)
	}

	log.Info("engine: recovered", "data_path", cfg.DataPath,
		"segment_shards", r.Stats(shard.EngineSegment).Shards, "pebble_shards", r.Stats(shard.EnginePebble).Shards,
		"segment_open", segTook, "duration", time.Since(t0), "truncated_bytes", truncated.Get()-cut0,
		"workers", cfg.IOThreadNum, "segment_bytes", cfg.MaxSegmentSize, "default_engine", shard.EngineSegment)

	e.mu.Lock()
	e.router, e.offsets = r, offs
	e.mu.Unlock()
	if e.env.Storage != nil {
		e.env.Storage.Provide(component.StorageHandles{Router: r, Engine: shard.EngineSegment, Offsets: offs})
	}
	return nil
}

// Stop implements component.Component: it withdraws the storage, closes the offset store, then the
// router (flush and close of every engine), bounded by ctx.
func (e *Engine) Stop(ctx context.Context) error {
	if e.env.Storage != nil {
		e.env.Storage.Withdraw()
	}
	e.mu.Lock()
	r, offs := e.router, e.offsets
	e.router, e.offsets = nil, nil
	e.mu.Unlock()
	if r == nil {
		return nil
	}
	done := make(chan error, 1)
	go func() { // owned by Stop: it waits below, or the process is exiting past its bound
		var errs []error
		if err := offs.Close(); err != nil {
			errs = append(errs, fmt.Errorf("engine: close offsets: %w", err))
		}
		if err := r.Close(); err != nil {
			errs = append(errs, fmt.Errorf("engine: close storage: %w", err))
		}
		done <- errors.Join(errs...)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("engine: close storage: %w", ctx.Err())
	}
}

// ShardRow is one line of the shard list.
type ShardRow struct {
	Name     string `json:"name"`
	Engine   string `json:"engine"`
	Earliest int64  `json:"earliest"`
	Latest   int64  `json:"latest"`
	Bytes    int64  `json:"bytes"`
}

// rows lists the router's shards sorted by name, or answers 503/500 and returns ok=false.
func (e *Engine) rows(w http.ResponseWriter) (rows []ShardRow, ok bool) {
	e.mu.RLock()
	defer e.mu.RUnlock() // Stop waits for the list before closing the router
	if e.router == nil {
		admin.Fail(w, http.StatusServiceUnavailable, "engine: not running")
		return nil, false
	}
	infos, err := e.router.ListShards()
	if err != nil {
		admin.Fail(w, http.StatusInternalServerError, "engine: list shards: "+err.Error())
		return nil, false
	}
	rows = make([]ShardRow, len(infos))
	for i, in := range infos {
		rows[i] = ShardRow{Name: in.Config.Name, Engine: string(in.Config.Engine),
			Earliest: in.Earliest, Latest: in.Latest, Bytes: in.Bytes}
	}
	slices.SortFunc(rows, func(a, b ShardRow) int { return cmp.Compare(a.Name, b.Name) })
	return rows, true
}

// listGet answers GET /api/storage-engine/shard/list with the admin paging parameters.
func (e *Engine) listGet(w http.ResponseWriter, r *http.Request) {
	if rows, ok := e.rows(w); ok {
		admin.WritePage(w, r, rows)
	}
}

// listRequest is RobustMQ's body of POST /api/storage-engine/shard/list.
type listRequest struct {
	ShardName string `json:"shard_name"`
	Limit     int    `json:"limit"`
	Page      int    `json:"page"`
}

// maxListBody bounds the POST body.
const maxListBody = 4 << 10

// listPost answers POST /api/storage-engine/shard/list: {"shard_name","limit","page"}, all optional.
func (e *Engine) listPost(w http.ResponseWriter, r *http.Request) {
	var req listRequest
	if r.ContentLength != 0 && !admin.ReadJSON(w, r, maxListBody, &req) {
		return
	}
	q := admin.PageQuery{Limit: admin.DefaultLimit, Page: 1}
	if req.Limit > 0 {
		q.Limit = req.Limit
	}
	if req.Page > 0 {
		q.Page = req.Page
	}
	if req.ShardName != "" {
		q.FilterField, q.FilterValues = "name", []string{req.ShardName}
	}
	rows, ok := e.rows(w)
	if !ok {
		return
	}
	p, err := admin.Paginate(rows, q)
	if err != nil {
		admin.Fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if p.Data == nil {
		p.Data = []ShardRow{}
	}
	admin.OK(w, p)
}
