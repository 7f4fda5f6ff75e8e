package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omnirank/omnirank/campaign"
	"github.com/omnirank/omnirank/extractors"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/spaces"
	"github.com/omnirank/omnirank/topology"
)

// SpaceStats reports the vectors a local ranker holds per space; nil when
// no ranker runs in this process.
type SpaceStats func() map[string]int

// Admin implements omnirankv1.AdminServiceServer: what an operator needs to
// see the pipeline's health and the products it rejected.
type Admin struct {
	pb.UnimplementedAdminServiceServer
	js     jetstream.JetStream
	errs   jetstream.KeyValue
	spaces *spaces.Store
	stats  SpaceStats
	models Models

	reconciler Reconciler
	campaigns  *campaign.Manager
}

// NewAdmin returns the AdminService.
func NewAdmin(ctx context.Context, js jetstream.JetStream, stats SpaceStats) (*Admin, error) {
	s := &Admin{js: js, stats: stats}
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
func (s *Admin) ListErrors(ctx context.Context, req *pb.ListErrorsRequest) (*pb.ListErrorsResponse, error) {
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

// Models is the model registry the admin service lists and registers into.
type Models interface {
	Models(ctx context.Context) ([]extractors.Manifest, error)
	Register(ctx context.Context, dir string) (extractors.Manifest, error)
	Encoder(ctx context.Context, id string) (extractors.Encoder, error)
}

// WithModels enables ListModels and RegisterModel.
func (s *Admin) WithModels(m Models) *Admin {
	s.models = m
	return s
}

// ListModels lists the registered models.
func (s *Admin) ListModels(ctx context.Context, _ *pb.ListModelsRequest) (*pb.ListModelsResponse, error) {
	if s.models == nil {
		return nil, status.Error(codes.Unimplemented, "no model registry in this process")
	}
	ms, err := s.models.Models(ctx)
	if err != nil {
		return nil, status.Error(codes.Unavailable, err.Error())
	}
	resp := &pb.ListModelsResponse{}
	for _, m := range ms {
		resp.Models = append(resp.Models, modelInfo(m))
	}
	return resp, nil
}

// RegisterModel stores a model folder sent as files, after checking that
// its manifest is valid and that ONNX Runtime loads and runs it.
func (s *Admin) RegisterModel(ctx context.Context, req *pb.RegisterModelRequest) (*pb.RegisterModelResponse, error) {
	if s.models == nil {
		return nil, status.Error(codes.Unimplemented, "no model registry in this process")
	}
	dir, err := os.MkdirTemp("", "omnirank-model-*")
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	defer os.RemoveAll(dir)
	for _, f := range req.GetFiles() {
		name := f.GetName()
		if name == "" || name != filepath.Base(name) || strings.HasPrefix(name, ".") {
			return nil, status.Errorf(codes.InvalidArgument, "model file name %q must be a plain file name", name)
		}
		if err := os.WriteFile(filepath.Join(dir, name), f.GetData(), 0o600); err != nil {
			return nil, status.Error(codes.Internal, err.Error())
		}
	}
	m, err := s.models.Register(ctx, dir)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	enc, err := s.models.Encoder(ctx, m.ID())
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "model %s was stored but does not load: %v", m.ID(), err)
	}
	_ = enc.Close()
	return &pb.RegisterModelResponse{Model: modelInfo(m)}, nil
}

func modelInfo(m extractors.Manifest) *pb.ModelInfo {
	data, _ := json.MarshalIndent(m, "", "  ")
	return &pb.ModelInfo{Id: m.ID(), Modality: m.Modality, Dim: int32(m.Dim), Licence: m.Licence, ManifestJson: string(data)}
}

// countKeys counts live keys (a KV bucket's status also counts delete markers).
func countKeys(ctx context.Context, kv jetstream.KeyValue) int64 {
	l, err := kv.ListKeys(ctx)
	if err != nil {
		return 0
	}
	var n int64
	for range l.Keys() {
		n++
	}
	return n
}
