package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// statusScanTimeout bounds the watch that counts product states when the
// request itself has no earlier deadline.
const statusScanTimeout = 10 * time.Second

// unknownState counts product records without a readable state.
const unknownState = "unknown"

// Status reports spaces, product states, dead letters and consumer backlogs.
func (s *Admin) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	sps, err := s.spaceStatus(ctx)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	resp := &pb.StatusResponse{Spaces: sps, States: map[string]int64{}, Pending: s.pending(ctx)}
	if kv, err := s.js.KeyValue(ctx, topology.BucketProducts); err == nil {
		if resp.States, resp.Products, err = productStates(ctx, kv); err != nil {
			return nil, status.Error(codes.Unavailable, err.Error())
		}
	}
	resp.Failed = countKeys(ctx, s.errs)
	if resp.DeadLetters, err = deadLetterCount(ctx, s.js); err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return resp, nil
}

// spaceStatus lists the spaces with the vectors the local ranker holds.
func (s *Admin) spaceStatus(ctx context.Context) ([]*pb.SpaceStatus, error) {
	active, _, _ := s.spaces.Active(ctx)
	all, err := s.spaces.List(ctx)
	if err != nil {
		return nil, err
	}
	var counts map[string]int
	if s.stats != nil {
		counts = s.stats()
	}
	out := make([]*pb.SpaceStatus, 0, len(all))
	for _, sp := range all {
		out = append(out, &pb.SpaceStatus{Name: sp.Name, Dim: int32(sp.Dim()),
			Active: sp.Name == active, Vectors: int64(counts[sp.Name])})
	}
	return out, nil
}

// pending reports each durable consumer's backlog (pending + unacked).
func (s *Admin) pending(ctx context.Context) map[string]int64 {
	out := map[string]int64{}
	for key := range topology.Consumers(topology.DefaultOptions(), topology.Modalities) {
		stream, name, _ := strings.Cut(key, "/")
		c, err := s.js.Consumer(ctx, stream, name)
		if err != nil {
			continue
		}
		info, err := c.Info(ctx)
		if err != nil {
			continue
		}
		out[name] = int64(info.NumPending) + int64(info.NumAckPending)
	}
	return out
}

// productStates counts the live product records per state, and in all,
// with one watch over the bucket's latest values: it stops at the nil
// entry that ends the initial values.
func productStates(ctx context.Context, kv jetstream.KeyValue) (map[string]int64, int64, error) {
	ctx, cancel := context.WithTimeout(ctx, statusScanTimeout)
	defer cancel()
	w, err := kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, 0, fmt.Errorf("watch products: %w", err)
	}
	defer func() { _ = w.Stop() }()
	states := map[string]int64{}
	var total int64
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, 0, errors.New("count product states: watch closed before the initial values ended")
			}
			if e == nil {
				return states, total, nil
			}
			states[recordState(e.Value())]++
			total++
		case <-ctx.Done():
			return nil, 0, fmt.Errorf("count product states: %w", ctx.Err())
		}
	}
}

// recordState decodes only the state of a product record.
func recordState(data []byte) string {
	var rec struct {
		State topology.ProductState `json:"state"`
	}
	if err := json.Unmarshal(data, &rec); err != nil || rec.State == "" {
		return unknownState
	}
	return string(rec.State)
}

// deadLetterCount is the number of messages in the dead-letter stream.
func deadLetterCount(ctx context.Context, js jetstream.JetStream) (int64, error) {
	stream, err := js.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		return 0, fmt.Errorf("open DLQ stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return 0, fmt.Errorf("DLQ stream info: %w", err)
	}
	return int64(info.State.Msgs), nil
}
