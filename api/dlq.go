package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// maxDLQScan bounds how many DLQ messages one call looks at.
const maxDLQScan = 100000

// Reconciler repairs the catalogue from the bucket (the ingest role).
type Reconciler interface {
	Reconcile(ctx context.Context) (int, error)
}

// WithReconciler enables Reconcile.
func (s *Admin) WithReconciler(r Reconciler) *Admin {
	s.reconciler = r
	return s
}

// Reconcile lists the bucket and syncs every product.
func (s *Admin) Reconcile(ctx context.Context, _ *pb.ReconcileRequest) (*pb.ReconcileResponse, error) {
	if s.reconciler == nil {
		return nil, status.Error(codes.Unimplemented, "no ingest role wiring in this process")
	}
	n, err := s.reconciler.Reconcile(ctx)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	return &pb.ReconcileResponse{Products: int64(n)}, nil
}

type deadLetter struct {
	seq uint64
	dl  topology.DeadLetter
}

// deadLetters walks the DLQ stream newest first.
func (s *Admin) deadLetters(ctx context.Context, stage string, limit int, want func(uint64) bool) ([]deadLetter, error) {
	stream, err := s.js.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		return nil, fmt.Errorf("open DLQ stream: %w", err)
	}
	info, err := stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("DLQ stream info: %w", err)
	}
	var out []deadLetter
	first, last := info.State.FirstSeq, info.State.LastSeq
	for seq, scanned := last, 0; seq >= first && seq > 0 && scanned < maxDLQScan && len(out) < limit; seq, scanned = seq-1, scanned+1 {
		if want != nil && !want(seq) {
			continue
		}
		raw, err := stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read DLQ message %d: %w", seq, err)
		}
		if stage != "" && raw.Subject != topology.DLQSubject(stage) {
			continue
		}
		var dl topology.DeadLetter
		if err := json.Unmarshal(raw.Data, &dl); err != nil {
			dl.Reason = "undecodable dead letter: " + err.Error()
		}
		out = append(out, deadLetter{seq: seq, dl: dl})
	}
	return out, nil
}

// ListDeadLetters lists dead letters, newest first.
func (s *Admin) ListDeadLetters(ctx context.Context, req *pb.ListDeadLettersRequest) (*pb.ListDeadLettersResponse, error) {
	limit := int(req.GetLimit())
	if limit <= 0 || limit > 10000 {
		limit = 100
	}
	dls, err := s.deadLetters(ctx, req.GetStage(), limit, nil)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	resp := &pb.ListDeadLettersResponse{}
	for _, d := range dls {
		resp.DeadLetters = append(resp.DeadLetters, &pb.DeadLetter{Seq: d.seq, Subject: d.dl.Subject,
			ProductId: d.dl.ProductID, ObjectKey: d.dl.ObjectKey, Stage: d.dl.Stage, Reason: d.dl.Reason,
			Attempts: int32(d.dl.Attempts), TimeMs: d.dl.Time.UnixMilli()})
	}
	return resp, nil
}

// ReplayDeadLetters republishes dead letters to their original subjects and
// removes them from the DLQ. A replayed message that fails again comes back.
func (s *Admin) ReplayDeadLetters(ctx context.Context, req *pb.ReplayDeadLettersRequest) (*pb.ReplayDeadLettersResponse, error) {
	if !req.GetAll() && len(req.GetSeqs()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "give seqs or all")
	}
	var want func(uint64) bool
	if !req.GetAll() {
		set := map[uint64]bool{}
		for _, q := range req.GetSeqs() {
			set[q] = true
		}
		want = func(q uint64) bool { return set[q] }
	}
	dls, err := s.deadLetters(ctx, req.GetStage(), maxDLQScan, want)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	stream, err := s.js.Stream(ctx, topology.StreamDLQ)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	resp := &pb.ReplayDeadLettersResponse{}
	for _, d := range dls {
		if d.dl.Subject == "" || len(d.dl.Original) == 0 {
			continue // nothing to replay (an undecodable dead letter)
		}
		if _, err := s.js.Publish(ctx, d.dl.Subject, d.dl.Original); err != nil {
			return resp, status.Errorf(codes.Unavailable, "replay %d to %s: %v", d.seq, d.dl.Subject, err)
		}
		if err := stream.DeleteMsg(ctx, d.seq); err != nil && !errors.Is(err, jetstream.ErrMsgNotFound) {
			return resp, status.Errorf(codes.Unavailable, "remove replayed %d: %v", d.seq, err)
		}
		if d.dl.ProductID != "" {
			_ = s.errs.Delete(ctx, d.dl.ProductID)
		}
		resp.Replayed++
	}
	return resp, nil
}
