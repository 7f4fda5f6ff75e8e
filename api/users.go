package api

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/ranker"
)

// ForgetUser erases a user's feedback everywhere (ranker.ForgetUser).
func (s *Admin) ForgetUser(ctx context.Context, req *pb.ForgetUserRequest) (*pb.ForgetUserResponse, error) {
	if req.GetUserId() == "" {
		return nil, status.Error(codes.InvalidArgument, "user_id is empty")
	}
	res, err := ranker.ForgetUser(ctx, s.js, req.GetUserId(), time.Now())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%v", err)
	}
	return &pb.ForgetUserResponse{Purged: res.Purged, Deleted: res.Deleted, Seq: res.Seq, Impressions: res.Impressions}, nil
}
