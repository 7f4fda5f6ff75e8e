package api

import (
	"context"
	"encoding/json"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/omnirank/omnirank/campaign"
	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/topology"
)

// CampaignStatus is the public form of a campaign record.
func CampaignStatus(c topology.Campaign) *pb.CampaignStatus {
	out := &pb.CampaignStatus{Space: c.Space, State: string(c.State), Done: int64(c.Done), Total: int64(c.Total),
		Failed: int64(c.Failed), ItemsPerS: c.ItemsPerS, EtaS: c.EtaS, From: c.From, Promoted: c.Promoted, Rate: c.Rate,
		Queued: int64(c.Queued), Encoded: int64(c.Encoded), Reused: int64(c.Reused), Error: c.Error}
	if ev := c.Evaluation; ev != nil {
		out.Evaluated, out.EvalK, out.ActiveNdcg, out.CampaignNdcg = true, int32(ev.K), ev.ActiveNDCG, ev.CampaignNDCG
		out.EvaluationJson = string(ev.Result)
	}
	return out
}

func campaignReply(c topology.Campaign, err error) (*pb.CampaignStatus, error) {
	if err != nil {
		return nil, campaignError(err)
	}
	return CampaignStatus(c), nil
}

// StartCampaign opens a campaign into a space.
func (s *Admin) StartCampaign(ctx context.Context, req *pb.StartCampaignRequest) (*pb.CampaignStatus, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	return campaignReply(m.Start(ctx, req.GetSpace(), req.GetRate()))
}

// PauseCampaign stops queueing backfill work.
func (s *Admin) PauseCampaign(ctx context.Context, _ *pb.CampaignRequest) (*pb.CampaignStatus, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	return campaignReply(m.Pause(ctx))
}

// ResumeCampaign continues a paused campaign.
func (s *Admin) ResumeCampaign(ctx context.Context, _ *pb.CampaignRequest) (*pb.CampaignStatus, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	return campaignReply(m.Resume(ctx))
}

// CancelCampaign ends the campaign.
func (s *Admin) CancelCampaign(ctx context.Context, _ *pb.CampaignRequest) (*pb.CampaignStatus, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	return campaignReply(m.Cancel(ctx))
}

// GetCampaign returns the current campaign.
func (s *Admin) GetCampaign(ctx context.Context, _ *pb.CampaignRequest) (*pb.CampaignStatus, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	return campaignReply(m.Status(ctx))
}

// WatchCampaign streams the campaign's status on every change, ending
// after it reaches done, cancelled or failed.
func (s *Admin) WatchCampaign(_ *pb.CampaignRequest, stream grpc.ServerStreamingServer[pb.CampaignStatus]) error {
	m, err := s.manager()
	if err != nil {
		return err
	}
	ctx := stream.Context()
	updates, err := m.Watch(ctx)
	if err != nil {
		return campaignError(err)
	}
	for c := range updates {
		if err := stream.Send(CampaignStatus(c)); err != nil {
			return err
		}
		if c.State != topology.CampaignRunning && c.State != topology.CampaignPaused {
			return nil
		}
	}
	if err := ctx.Err(); err != nil {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Unavailable, "campaign watch ended")
}

// StoreEvaluation keeps a side-by-side evaluation with the campaign.
func (s *Admin) StoreEvaluation(ctx context.Context, req *pb.StoreEvaluationRequest) (*pb.CampaignStatus, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	ev := topology.CampaignEvaluation{K: int(req.GetK()), Queries: int(req.GetQueries()), ActiveNDCG: req.GetActiveNdcg(),
		CampaignNDCG: req.GetCampaignNdcg(), Overlap: req.GetOverlap()}
	if r := req.GetResultJson(); r != "" {
		if !json.Valid([]byte(r)) {
			return nil, status.Error(codes.InvalidArgument, "result_json is not valid JSON")
		}
		ev.Result = []byte(r)
	}
	return campaignReply(m.SetEvaluation(ctx, ev))
}

// PromoteCampaign moves the active alias to the campaign's space.
func (s *Admin) PromoteCampaign(ctx context.Context, req *pb.PromoteCampaignRequest) (*pb.CampaignStatus, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	maxReg := campaign.DefaultMaxRegression
	if req.MaxRegression != nil {
		maxReg = req.GetMaxRegression()
	}
	return campaignReply(m.Promote(ctx, req.GetForce(), maxReg))
}

// RollbackCampaign moves the alias back.
func (s *Admin) RollbackCampaign(ctx context.Context, _ *pb.CampaignRequest) (*pb.CampaignStatus, error) {
	m, err := s.manager()
	if err != nil {
		return nil, err
	}
	return campaignReply(m.Rollback(ctx))
}
