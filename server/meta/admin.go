package meta

import (
	"context"
	"net/http"
	"time"

	"robustmq/raftgroups"
	"robustmq/server/admin"
	"robustmq/server/node/component"
)

// maxBodyBytes bounds an admin request body.
const maxBodyBytes = 64 << 10

// routes registers the Meta Service's admin routes (RobustMQ's paths).
func (s *Service) routes(h component.Router) {
	h.HandleFunc("GET /api/cluster/raft", s.handleRaft)
	h.HandleFunc("GET /api/cluster/nodes", s.handleNodes)
	h.HandleFunc("GET /api/cluster/topic/list", s.handleTopicList)
	h.HandleFunc("GET /api/cluster/topic/detail", s.handleTopicDetail)
	h.HandleFunc("GET /api/cluster/topic/describe", s.handleTopicDetail) // the name for detail
	h.HandleFunc("POST /api/cluster/topic/create", s.handleTopicCreate)
	h.HandleFunc("POST /api/cluster/topic/delete", s.handleTopicDelete)
}

// fail answers err with the HTTP status of errCodes.
func fail(w http.ResponseWriter, err error) {
	_, st := classify(err)
	admin.Fail(w, st, err.Error())
}

// reqCtx bounds an admin request by raft_write_timeout_sec.
func (s *Service) reqCtx(r *http.Request) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), time.Duration(max(s.cfg.MetaRuntime.RaftWriteTimeoutSec, 1))*time.Second)
}

// handleRaft answers this replica's view of every group: leader, term, commit, applied, members.
// It needs no quorum, so a partitioned node still answers (with its own stale view).
func (s *Service) handleRaft(w http.ResponseWriter, _ *http.Request) {
	r, err := s.live()
	if err != nil {
		fail(w, err)
		return
	}
	admin.OK(w, r.m.Status())
}

func (s *Service) handleNodes(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	nodes, err := s.nodes(ctx)
	if err != nil {
		fail(w, err)
		return
	}
	admin.WritePage(w, r, nodes)
}

// Topic is a topic as the admin API shows and accepts it.
type Topic struct {
	Name           string            `json:"topic_name"`
	Partitions     uint32            `json:"partition"`
	Engine         string            `json:"storage_type"`
	RetentionMs    int64             `json:"retention_ms"`
	RetentionBytes int64             `json:"retention_bytes"`
	Options        map[string]string `json:"options"`
}

func topicFrom(t raftgroups.Topic) Topic {
	return Topic{Name: t.Name, Partitions: t.Partitions, Engine: t.Engine, RetentionMs: t.RetentionMs, RetentionBytes: t.RetentionByte, Options: t.Options}
}

// withMeta runs f on the running Meta API within the request's bound; it answers f's error (or
// ErrUnavailable) itself, f answers success.
func (s *Service) withMeta(w http.ResponseWriter, r *http.Request, f func(ctx context.Context, m raftgroups.Meta) error) {
	ctx, cancel := s.reqCtx(r)
	defer cancel()
	run, err := s.live()
	if err == nil {
		err = f(ctx, run.meta)
	}
	if err != nil {
		fail(w, err)
	}
}

func (s *Service) handleTopicList(w http.ResponseWriter, r *http.Request) {
	s.withMeta(w, r, func(ctx context.Context, m raftgroups.Meta) error {
		ts, err := m.Topics(ctx)
		if err != nil {
			return err
		}
		out := make([]Topic, len(ts))
		for i, t := range ts {
			out[i] = topicFrom(t)
		}
		admin.WritePage(w, r, out)
		return nil
	})
}

func (s *Service) handleTopicDetail(w http.ResponseWriter, r *http.Request) {
	s.withMeta(w, r, func(ctx context.Context, m raftgroups.Meta) error {
		t, err := m.Topic(ctx, r.URL.Query().Get("topic_name"))
		if err == nil {
			admin.OK(w, topicFrom(t))
		}
		return err
	})
}

func (s *Service) handleTopicCreate(w http.ResponseWriter, r *http.Request) {
	var t Topic
	if !admin.ReadJSON(w, r, maxBodyBytes, &t) {
		return
	}
	s.withMeta(w, r, func(ctx context.Context, _ raftgroups.Meta) error {
		err := s.createTopic(ctx, raftgroups.Topic{Name: t.Name, Partitions: t.Partitions, Engine: t.Engine,
			RetentionMs: t.RetentionMs, RetentionByte: t.RetentionBytes, Options: t.Options})
		if err == nil {
			admin.OK(w, "success")
		}
		return err
	})
}

func (s *Service) handleTopicDelete(w http.ResponseWriter, r *http.Request) {
	var t struct {
		Name string `json:"topic_name"`
	}
	if !admin.ReadJSON(w, r, maxBodyBytes, &t) {
		return
	}
	s.withMeta(w, r, func(ctx context.Context, _ raftgroups.Meta) error {
		err := s.deleteTopic(ctx, t.Name)
		if err == nil {
			admin.OK(w, "success")
		}
		return err
	})
}
