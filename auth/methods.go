package auth

import (
	"strings"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// SizeClass says which request-size cap a method gets.
type SizeClass int

const (
	// SizeControl: small control requests (admin, feedback, lookups).
	SizeControl SizeClass = iota
	// SizeQuery: a query that may carry an image or audio clip.
	SizeQuery
	// SizeBulk: product uploads and model registration, with their files.
	SizeBulk
)

// Policy is what a method needs: a scope (empty: any valid token) and the
// size class of its requests.
type Policy struct {
	Scope Scope
	Size  SizeClass
	// Open methods (health checks) need no token and are not limited.
	Open bool
}

// serviceScopes gives every public service's scope; methodPolicies
// overrides single methods. A method of a service in neither table needs
// the admin scope: whatever is added to the API is closed until someone
// decides otherwise.
var serviceScopes = map[string]Scope{
	pb.RankerService_ServiceDesc.ServiceName:   ScopeQuery,
	pb.FeedbackService_ServiceDesc.ServiceName: ScopeFeedback,
	pb.CatalogService_ServiceDesc.ServiceName:  ScopeIngest,
	pb.AdminService_ServiceDesc.ServiceName:    ScopeAdmin,
}

var methodPolicies = map[string]Policy{
	pb.RankerService_Recommend_FullMethodName:                        {Scope: ScopeQuery, Size: SizeQuery},
	pb.CatalogService_Get_FullMethodName:                             {Scope: ScopeQuery, Size: SizeControl},
	pb.CatalogService_Upsert_FullMethodName:                          {Scope: ScopeIngest, Size: SizeBulk},
	pb.CatalogService_BulkUpsert_FullMethodName:                      {Scope: ScopeIngest, Size: SizeBulk},
	pb.AdminService_RegisterModel_FullMethodName:                     {Scope: ScopeAdmin, Size: SizeBulk},
	"/grpc.health.v1.Health/Check":                                   {Open: true},
	"/grpc.health.v1.Health/Watch":                                   {Open: true},
	"/grpc.health.v1.Health/List":                                    {Open: true},
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo":      {Size: SizeControl},
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": {Size: SizeControl},
}

// PolicyFor is the policy of a full gRPC method name ("/pkg.Service/Method").
func PolicyFor(fullMethod string) Policy {
	if p, ok := methodPolicies[fullMethod]; ok {
		return p
	}
	service, _, _ := strings.Cut(strings.TrimPrefix(fullMethod, "/"), "/")
	if s, ok := serviceScopes[service]; ok {
		return Policy{Scope: s, Size: SizeControl}
	}
	return Policy{Scope: ScopeAdmin, Size: SizeControl}
}
