package client

import (
	"context"

	"robustmq/server/pb"
)

// Txn runs req as one atomic command on its space's group: when every compare holds, its ops are
// applied in order and succeeded is true; when one fails, nothing changes and succeeded is false
// with a nil error. Errors are the server's refusals (InvalidArgument: an unknown space or table,
// more than 1024 compares + ops) and replication failures; DeadlineExceeded leaves the outcome
// unknown, so the caller re-reads (or makes the request idempotent through its compares) before
// it retries. Unavailable is retried on the next node by Call: such a request never reached raft.
func (c *Client) Txn(ctx context.Context, req *pb.TxnRequest) (succeeded bool, err error) {
	err = c.Call(ctx, func(ctx context.Context, api pb.MetaServiceClient) error {
		r, err := api.Txn(ctx, req)
		succeeded = r.GetSucceeded()
		return err
	})
	return succeeded, err
}
