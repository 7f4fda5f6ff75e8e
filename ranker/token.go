package ranker

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	omnirankv1 "github.com/omnirank/omnirank/proto/omnirank/v1"
)

// pageToken is what next_page_token carries: the offset of the next page,
// the space that answered the first page (a moved alias does not switch
// spaces mid-pagination) and a digest of the request so that a token is
// refused with any other query.
type pageToken struct {
	Offset int    `json:"o"`
	Space  string `json:"s"`
	Hash   string `json:"h"`
	// Window is the candidate pool a hybrid ranking was fused over on its
	// first page; later pages fuse over the same pool, so they continue
	// one ranking (0: not hybrid).
	Window int `json:"w,omitempty"`
}

// errBadToken marks a page token that is malformed or belongs to another
// request.
var errBadToken = errors.New("invalid page token")

// requestHash digests every field of the request except the page token.
func requestHash(req *omnirankv1.RecommendRequest) (string, error) {
	c := proto.Clone(req).(*omnirankv1.RecommendRequest)
	c.PageToken = ""
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("hash request: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:12]), nil
}

func encodeToken(t pageToken) string {
	b, _ := json.Marshal(t) // a struct of ints and strings always encodes
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeToken(s, hash string) (pageToken, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return pageToken{}, fmt.Errorf("%w: %v", errBadToken, err)
	}
	var t pageToken
	if err := json.Unmarshal(b, &t); err != nil {
		return pageToken{}, fmt.Errorf("%w: %v", errBadToken, err)
	}
	if t.Offset <= 0 || t.Space == "" || t.Window < 0 {
		return pageToken{}, fmt.Errorf("%w: bad offset or space", errBadToken)
	}
	if t.Hash != hash {
		return pageToken{}, fmt.Errorf("%w: it belongs to another request", errBadToken)
	}
	return t, nil
}
