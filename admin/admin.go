// Package admin implements the AdminService of the public API: what an
// operator needs to see the pipeline's health and the products it rejected.
package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// SpaceStats reports the vectors a local ranker holds per space; nil when
// no ranker runs in this process.
type SpaceStats func() map[string]int

// Service implements omnirankv1.AdminServiceServer.
type Service struct {
	pb.UnimplementedAdminServiceServer
	js     jetstream.JetStream
	errs   jetstream.KeyValue
	spaces *spaces.Store
	stats  SpaceStats
}

// New returns the service.
func New(ctx context.Context, js jetstream.JetStream, stats SpaceStats) (*Service, error) {
	s := &Service{js: js, stats: stats}
	var err error
	if s.errs, err = js.KeyValue(ctx, topology.BucketErrors); err != nil {
		return nil, fmt.Errorf("admin: open errors bucket: %w", err)
	}
	if s.spaces, err = spaces.NewStore(ctx, js); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	return s, nil
}

// ListErrors lists rejected products, newest first.
func (s *Service) ListErrors(ctx context.Context, req *pb.ListErrorsRequest) (*pb.ListErrorsResponse, error) {
	limit := int(req.GetLimit())
	if limit <= 0 || limit > 10000 {
		limit = 1000
	}
	out, err := ListErrors(ctx, s.errs)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	resp := &pb.ListErrorsResponse{}
	for i, ie := range out {
		if i == limit {
			break
		}
		resp.Errors = append(resp.Errors, &pb.IngestError{ProductId: ie.ProductID, ObjectKey: ie.ObjectKey,
			Stage: ie.Stage, Reason: ie.Reason, TimeMs: ie.Time.UnixMilli()})
	}
	return resp, nil
}

// ListErrors reads every error record, newest first.
func ListErrors(ctx context.Context, kv jetstream.KeyValue) ([]topology.IngestError, error) {
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, fmt.Errorf("list errors: %w", err)
	}
	var out []topology.IngestError
	for k := range lister.Keys() {
		e, err := kv.Get(ctx, k)
		if err != nil {
			continue // deleted since listed
		}
		var ie topology.IngestError
		if json.Unmarshal(e.Value(), &ie) == nil {
			out = append(out, ie)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Time.After(out[j].Time) })
	return out, nil
}

// Status reports spaces, counts and consumer backlogs.
func (s *Service) Status(ctx context.Context, _ *pb.StatusRequest) (*pb.StatusResponse, error) {
	resp := &pb.StatusResponse{Pending: map[string]int64{}}
	active, _, _ := s.spaces.Active(ctx)
	all, err := s.spaces.List(ctx)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	var counts map[string]int
	if s.stats != nil {
		counts = s.stats()
	}
	for _, sp := range all {
		resp.Spaces = append(resp.Spaces, &pb.SpaceStatus{Name: sp.Name, Dim: int32(sp.Dim()),
			Active: sp.Name == active, Vectors: int64(counts[sp.Name])})
	}
	if kv, err := s.js.KeyValue(ctx, topology.BucketProducts); err == nil {
		if st, err := kv.Status(ctx); err == nil {
			resp.Products = int64(st.Values())
		}
	}
	if st, err := s.errs.Status(ctx); err == nil {
		resp.Failed = int64(st.Values())
	}
	for key := range topology.Consumers(topology.DefaultOptions(), []string{"text", "image", "audio"}) {
		stream, name, _ := strings.Cut(key, "/")
		c, err := s.js.Consumer(ctx, stream, name)
		if err != nil {
			continue
		}
		info, err := c.Info(ctx)
		if err != nil {
			continue
		}
		resp.Pending[name] = int64(info.NumPending) + int64(info.NumAckPending)
	}
	return resp, nil
}
