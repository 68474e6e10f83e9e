package segment

import "github.com/VictoriaMetrics/metrics"

// Engine-wide metrics. Shard-level counts live in the router's
// robustmq_storage_* metrics; these describe the segment write path.
var (
	mAppends      = metrics.GetOrCreateCounter(`robustmq_storage_segment_appends_total`)
	mAppendBytes  = metrics.GetOrCreateCounter(`robustmq_storage_segment_append_bytes_total`)
	mFsyncs       = metrics.GetOrCreateCounter(`robustmq_storage_segment_fsyncs_total`)
	mFsyncErrors  = metrics.GetOrCreateCounter(`robustmq_storage_segment_fsync_errors_total`)
	mFsyncSeconds = metrics.GetOrCreateHistogram(`robustmq_storage_segment_fsync_seconds`)
	// A Sync append waits queue_wait (its shard queued on the worker until
	// a round takes it: the previous round's write and fsync) plus round
	// (write, fsync, publish); their tails tell fsync waits from queueing.
	mQueueWait     = metrics.GetOrCreateHistogram(`robustmq_storage_segment_queue_wait_seconds`)
	mRoundSeconds  = metrics.GetOrCreateHistogram(`robustmq_storage_segment_round_seconds`)
	mBatchBytes    = metrics.GetOrCreateHistogram(`robustmq_storage_segment_group_commit_bytes`)
	mQueueFull     = metrics.GetOrCreateCounter(`robustmq_storage_segment_queue_full_total`)
	mWriteErrors   = metrics.GetOrCreateCounter(`robustmq_storage_segment_write_errors_total`)
	mTruncated     = metrics.GetOrCreateCounter(`robustmq_storage_segment_truncated_bytes_total`)
	mCorrupt       = metrics.GetOrCreateCounter(`robustmq_storage_segment_corruption_errors_total`)
	mOpenSegments  = metrics.GetOrCreateCounter(`robustmq_storage_segment_open_segments`)
	mIndexRebuilds = metrics.GetOrCreateCounter(`robustmq_storage_segment_index_rebuilds_total`)
	mSegmentsGone  = metrics.GetOrCreateCounter(`robustmq_storage_segment_deleted_segments_total`)
)
