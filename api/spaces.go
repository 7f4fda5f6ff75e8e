package api

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omnirank/omnirank/campaign"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/spaces"
)

// WithCampaigns enables the space and campaign RPCs.
func (s *Admin) WithCampaigns(m *campaign.Manager) *Admin {
	s.campaigns = m
	return s
}

// campaignError maps the campaign package's refusals to gRPC codes.
func campaignError(err error) error {
	switch {
	case errors.Is(err, campaign.ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, campaign.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, campaign.ErrConflict):
		return status.Error(codes.FailedPrecondition, err.Error())
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return status.FromContextError(err).Err()
	default:
		return status.Error(codes.Unavailable, err.Error())
	}
}

func (s *Admin) manager() (*campaign.Manager, error) {
	if s.campaigns == nil {
		return nil, status.Error(codes.Unimplemented, "no campaign manager in this process")
	}
	return s.campaigns, nil
}

func (s *Admin) spaceInfo(info campaign.SpaceInfo) *pb.SpaceInfo {
	out := &pb.SpaceInfo{Name: info.Name, Dim: int32(info.Dim()), Active: info.Active, CampaignState: string(info.Campaign)}
	for _, b := range info.Blocks {
		out.Blocks = append(out.Blocks, &pb.SpaceBlock{Modality: b.Modality, Model: b.Model, Dim: int32(b.Dim), Weight: b.Weight})
	}
	if s.stats != nil {
		out.Vectors = int64(s.stats()[info.Name])
	}
	return out
}

// CreateSpace stores a new space made of registered models.
func (s *Admin) CreateSpace(ctx context.Context, req *pb.CreateSpaceRequest) (*pb.SpaceInfo, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	if len(req.GetBlocks()) == 0 {
		return nil, status.Error(codes.InvalidArgument, "a space needs at least one block (MODALITY=MODEL@VERSION[:WEIGHT])")
	}
	var blocks []spaces.BlockSpec
	for _, b := range req.GetBlocks() {
		spec, err := spaces.ParseBlockSpec(b)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		blocks = append(blocks, spec)
	}
	sp, err := m.CreateSpace(ctx, req.GetName(), blocks)
	if err != nil {
		return nil, campaignError(err)
	}
	return s.spaceInfo(campaign.SpaceInfo{Space: sp}), nil
}

// ListSpaces lists every stored space.
func (s *Admin) ListSpaces(ctx context.Context, _ *pb.ListSpacesRequest) (*pb.ListSpacesResponse, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	all, err := m.ListSpaces(ctx)
	if err != nil {
		return nil, campaignError(err)
	}
	resp := &pb.ListSpacesResponse{}
	for _, info := range all {
		resp.Spaces = append(resp.Spaces, s.spaceInfo(info))
	}
	return resp, nil
}

// GetSpace describes one space.
func (s *Admin) GetSpace(ctx context.Context, req *pb.GetSpaceRequest) (*pb.SpaceInfo, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	info, err := m.GetSpace(ctx, req.GetName())
	if err != nil {
		return nil, campaignError(err)
	}
	return s.spaceInfo(info), nil
}

// RetireSpace removes a space and what was derived for it.
func (s *Admin) RetireSpace(ctx context.Context, req *pb.RetireSpaceRequest) (*pb.RetireSpaceResponse, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	r, err := m.RetireSpace(ctx, req.GetName())
	if err != nil {
		return nil, campaignError(err)
	}
	return &pb.RetireSpaceResponse{Embeddings: r.Embeddings, Features: r.Features, Snapshots: int32(r.Snapshots)}, nil
}
