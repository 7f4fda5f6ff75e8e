package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "github.com/omnirank/omnirank/proto/omnirank/v1"
	"github.com/omnirank/omnirank/storage"
	"github.com/omnirank/omnirank/topology"
)

// MaxMediaBytes is the largest media object accepted through the API.
const MaxMediaBytes = 32 << 20

// Catalog implements omnirankv1.CatalogServiceServer: it writes products
// and their media into the bucket and reads back their ingest state. It
// never triggers ingestion itself: the bucket's own event notification
// does, exactly as for a product written by any S3 client.
type Catalog struct {
	pb.UnimplementedCatalogServiceServer
	store    storage.ObjectStore
	products jetstream.KeyValue
	errs     jetstream.KeyValue
	log      *slog.Logger
}

// NewCatalog returns the CatalogService over the bucket and the catalogue KV buckets.
func NewCatalog(ctx context.Context, js jetstream.JetStream, store storage.ObjectStore, log *slog.Logger) (*Catalog, error) {
	if log == nil {
		log = slog.Default()
	}
	s := &Catalog{store: store, log: log}
	var err error
	if s.products, err = js.KeyValue(ctx, topology.BucketProducts); err != nil {
		return nil, fmt.Errorf("catalog: open products bucket: %w", err)
	}
	if s.errs, err = js.KeyValue(ctx, topology.BucketErrors); err != nil {
		return nil, fmt.Errorf("catalog: open errors bucket: %w", err)
	}
	return s, nil
}

// Upsert validates a product, writes its media and then its product.json.
func (s *Catalog) Upsert(ctx context.Context, req *pb.UpsertRequest) (*pb.UpsertResponse, error) {
	written, err := s.upsert(ctx, req)
	if err != nil {
		return nil, err
	}
	return &pb.UpsertResponse{Id: req.GetProduct().GetId(), Written: written}, nil
}

func (s *Catalog) upsert(ctx context.Context, req *pb.UpsertRequest) ([]string, error) {
	if req.GetProduct() == nil {
		return nil, status.Error(codes.InvalidArgument, "product is required")
	}
	p := FromProto(req.GetProduct())
	data, err := json.Marshal(p)
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "encode product: %v", err)
	}
	// Validate exactly as ingestion will, so the caller hears of problems now.
	if _, err := storage.ParseProduct(data); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	blobs := map[string]*pb.MediaBlob{}
	for _, b := range req.GetMedia() {
		if len(b.GetData()) > MaxMediaBytes {
			return nil, status.Errorf(codes.ResourceExhausted, "product %s: media %s is %d bytes, over the %d-byte limit", p.ID, b.GetKey(), len(b.GetData()), MaxMediaBytes)
		}
		blobs[b.GetKey()] = b
	}
	for _, m := range p.Media {
		if _, ok := blobs[m.Key]; ok {
			continue
		}
		if _, err := s.store.StatObject(ctx, storage.MediaKey(p.ID, m.Key)); err != nil {
			if errors.Is(err, storage.ErrNotFound) {
				return nil, status.Errorf(codes.InvalidArgument, "product %s: media %s is neither in the request nor in the bucket", p.ID, m.Key)
			}
			return nil, status.Errorf(codes.Unavailable, "product %s: check media %s: %v", p.ID, m.Key, err)
		}
	}
	var written []string
	for _, m := range p.Media {
		b, ok := blobs[m.Key]
		if !ok {
			continue
		}
		key := storage.MediaKey(p.ID, m.Key)
		ct := b.GetContentType()
		if ct == "" {
			ct = m.ContentType
		}
		if err := s.store.PutObject(ctx, key, b.GetData(), ct); err != nil {
			return written, status.Errorf(codes.Unavailable, "write %s: %v", key, err)
		}
		written = append(written, key)
	}
	// product.json goes last: its event finds every medium in place.
	if err := s.store.PutObject(ctx, storage.ProductKey(p.ID), data, "application/json"); err != nil {
		return written, status.Errorf(codes.Unavailable, "write %s: %v", storage.ProductKey(p.ID), err)
	}
	return append(written, storage.ProductKey(p.ID)), nil
}

// BulkUpsert upserts a stream of products; a bad one is reported and skipped.
func (s *Catalog) BulkUpsert(stream pb.CatalogService_BulkUpsertServer) error {
	resp := &pb.BulkUpsertResponse{}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(resp)
		}
		if err != nil {
			return err
		}
		if _, err := s.upsert(stream.Context(), req); err != nil {
			resp.Rejected++
			if len(resp.Errors) < 1000 {
				resp.Errors = append(resp.Errors, fmt.Sprintf("%s: %s", req.GetProduct().GetId(), status.Convert(err).Message()))
			}
			if code := status.Code(err); code == codes.Unavailable || code == codes.Canceled || code == codes.DeadlineExceeded {
				return err
			}
			continue
		}
		resp.Accepted++
	}
}

// Get returns a product and its ingest state.
func (s *Catalog) Get(ctx context.Context, req *pb.GetRequest) (*pb.GetResponse, error) {
	if req.GetId() == "" {
		return nil, status.Error(codes.InvalidArgument, "id is required")
	}
	e, err := s.products.Get(ctx, req.GetId())
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return nil, status.Errorf(codes.NotFound, "product %s not found", req.GetId())
	}
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "read product %s: %v", req.GetId(), err)
	}
	var rec topology.ProductRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		return nil, status.Errorf(codes.Internal, "decode product %s: %v", req.GetId(), err)
	}
	resp := &pb.GetResponse{Product: ToProto(&rec.Product), State: string(rec.State), Error: rec.Error}
	if t := rec.Transcript; t != nil {
		resp.Transcript = &pb.Transcript{Text: t.Text, Confidence: float32(t.Confidence), Model: t.Model, LanguageModel: t.LanguageModel}
	}
	if ee, err := s.errs.Get(ctx, req.GetId()); err == nil {
		var ie topology.IngestError
		if json.Unmarshal(ee.Value(), &ie) == nil {
			// A recorded error means the product failed, unless fusion
			// already indexed it without the rejected modality (partial).
			if rec.State != topology.StatePartial {
				resp.State = string(topology.StateFailed)
			}
			resp.Error = ie.Stage + ": " + ie.Reason
		}
	}
	return resp, nil
}

// Delete removes a product and its media from the bucket; the bucket's
// events remove it from every index.
func (s *Catalog) Delete(ctx context.Context, req *pb.DeleteRequest) (*pb.DeleteResponse, error) {
	id := req.GetId()
	if id == "" || strings.ContainsAny(id, "/\\") || id == "." || id == ".." {
		return nil, status.Errorf(codes.InvalidArgument, "invalid product id %q", id)
	}
	if _, err := s.store.StatObject(ctx, storage.ProductKey(id)); errors.Is(err, storage.ErrNotFound) {
		return nil, status.Errorf(codes.NotFound, "product %s not found", id)
	}
	if err := s.store.DeleteObject(ctx, storage.ProductKey(id)); err != nil {
		return nil, status.Errorf(codes.Unavailable, "delete %s: %v", id, err)
	}
	keys, err := s.store.List(ctx, storage.ProductsPrefix+id+"/")
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "list media of %s: %v", id, err)
	}
	for _, k := range keys {
		if err := s.store.DeleteObject(ctx, k); err != nil {
			return nil, status.Errorf(codes.Unavailable, "delete %s: %v", k, err)
		}
	}
	return &pb.DeleteResponse{}, nil
}

// FromProto converts an API product to the catalogue format.
func FromProto(p *pb.Product) storage.Product {
	out := storage.Product{ID: p.GetId(), Title: p.GetTitle(), Description: p.GetDescription(),
		Category: p.GetCategory(), Brand: p.GetBrand(), Price: p.GetPrice(), Currency: p.GetCurrency(),
		Attributes: p.GetAttributes()}
	for _, m := range p.GetMedia() {
		out.Media = append(out.Media, storage.Media{Key: m.GetKey(), Kind: m.GetKind(), ContentType: m.GetContentType(), Speech: m.GetSpeech()})
	}
	return out
}

// ToProto converts a catalogue product to its API form.
func ToProto(p *storage.Product) *pb.Product {
	out := &pb.Product{Id: p.ID, Title: p.Title, Description: p.Description, Category: p.Category,
		Brand: p.Brand, Price: p.Price, Currency: p.Currency, Attributes: p.Attributes}
	for _, m := range p.Media {
		out.Media = append(out.Media, &pb.MediaRef{Key: m.Key, Kind: m.Kind, ContentType: m.ContentType, Speech: m.Speech})
	}
	return out
}
