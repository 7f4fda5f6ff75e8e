package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"connectrpc.com/vanguard"
	"go.yaml.in/yaml/v3"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/omnirank/omnirank/internal/option"
	"github.com/omnirank/omnirank/storage"
)

// rulesYAML maps gRPC methods to REST paths (see the file's header).
//
//go:embed omnirank_http.yaml
var rulesYAML []byte

// openAPIJSON is generated from the proto and rulesYAML by `make proto`.
//
//go:embed openapi.swagger.json
var openAPIJSON []byte

// ServicePrefix selects the gRPC services that are served over HTTP: the
// public API, not health checks or reflection.
const ServicePrefix = "omnirank.v1."

// DefaultThumbnailCacheBytes bounds the thumbnail cache when
// Config.ThumbnailCacheBytes is 0.
const DefaultThumbnailCacheBytes = 32 << 20

// Config is what the Handler serves.
type Config struct {
	// GRPC is the server whose omnirank.v1 services are transcoded
	// (required). Its registered services must be complete before New.
	GRPC *grpc.Server
	// MaxMessageBytes is the gRPC server's largest request message. The
	// transcoder buffers up to its JSON size (base64 makes bytes 4/3 as
	// long) and the gRPC server then applies its own limit exactly.
	MaxMessageBytes int
	// Store holds the catalogue; nil serves no media routes.
	Store storage.ObjectStore
	// MaxMediaBytes is the largest medium served (required with Store).
	MaxMediaBytes int64
	// ThumbnailCacheBytes bounds the thumbnail cache (0: the default).
	ThumbnailCacheBytes int64
	// GuardMedia, when set, wraps the media routes (authentication). The
	// JSON API needs no wrapper: its calls pass the gRPC server's
	// interceptors, which read the Authorization header as metadata. The
	// console's files and the OpenAPI document hold no data.
	GuardMedia func(http.Handler) http.Handler
	// Console, when set, answers every path no other route takes ("/").
	Console http.Handler
	Logger  *slog.Logger
}

// Validate reports a config New cannot serve.
func (c Config) Validate() error {
	switch {
	case c.GRPC == nil:
		return fmt.Errorf("httpapi: no gRPC server: %w", option.ErrInvalid)
	case c.MaxMessageBytes <= 0 || c.MaxMessageBytes > 1<<30:
		return fmt.Errorf("httpapi: MaxMessageBytes %d outside 1..1 GiB: %w", c.MaxMessageBytes, option.ErrInvalid)
	case c.Store != nil && c.MaxMediaBytes <= 0:
		return fmt.Errorf("httpapi: MaxMediaBytes %d must be positive with a store: %w", c.MaxMediaBytes, option.ErrInvalid)
	case c.ThumbnailCacheBytes < 0:
		return fmt.Errorf("httpapi: negative ThumbnailCacheBytes %d: %w", c.ThumbnailCacheBytes, option.ErrInvalid)
	}
	return nil
}

// New returns the HTTP handler of the JSON API, /openapi.json, the media
// routes and, under everything else, the console.
func New(cfg Config) (http.Handler, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	rules, err := HTTPRules()
	if err != nil {
		return nil, err
	}
	var svcs []*vanguard.Service
	mux := http.NewServeMux()
	for name := range cfg.GRPC.GetServiceInfo() {
		if strings.HasPrefix(name, ServicePrefix) {
			svcs = append(svcs, vanguard.NewService(name, cfg.GRPC))
		}
	}
	if len(svcs) == 0 {
		return nil, fmt.Errorf("httpapi: the gRPC server has no %s* service: %w", ServicePrefix, option.ErrInvalid)
	}
	// JSON of the largest message: bytes fields grow by 4/3 in base64.
	buffer := uint32(min(int64(cfg.MaxMessageBytes)*4/3+1<<20, 1<<32-1))
	tc, err := vanguard.NewTranscoder(svcs,
		vanguard.WithRules(rules...),
		vanguard.WithCodec(newJSONCodec),
		vanguard.WithDefaultServiceOptions(
			vanguard.WithTargetProtocols(vanguard.ProtocolGRPC),
			vanguard.WithTargetCodecs(vanguard.CodecProto),
			vanguard.WithMaxMessageBufferBytes(buffer),
		))
	if err != nil {
		return nil, fmt.Errorf("httpapi: transcoder: %w", err)
	}
	for name := range cfg.GRPC.GetServiceInfo() {
		if strings.HasPrefix(name, ServicePrefix) {
			mux.Handle("POST /"+name+"/", connectByDefault(tc))
		}
	}
	mux.Handle("/v1/", tc)
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(openAPIJSON)
	})
	if cfg.Store != nil {
		m := newMedia(cfg.Store, cfg.MaxMediaBytes, cfg.ThumbnailCacheBytes, cfg.Logger)
		guard := cfg.GuardMedia
		if guard == nil {
			guard = func(h http.Handler) http.Handler { return h }
		}
		mux.Handle("GET /v1/products/{id}/image", guard(m.serveKind("image")))
		mux.Handle("GET /v1/products/{id}/audio", guard(m.serveKind("audio")))
		mux.Handle("GET /v1/products/{id}/thumbnail", guard(http.HandlerFunc(m.serveThumbnail)))
	}
	if cfg.Console != nil {
		mux.Handle("/", cfg.Console)
	}
	return mux, nil
}

// HTTPRules are the REST rules of omnirank_http.yaml.
func HTTPRules() ([]*annotations.HttpRule, error) {
	var doc struct {
		HTTP any `yaml:"http"`
	}
	if err := yaml.Unmarshal(rulesYAML, &doc); err != nil {
		return nil, fmt.Errorf("httpapi: parse omnirank_http.yaml: %w", err)
	}
	js, err := json.Marshal(doc.HTTP)
	if err != nil {
		return nil, fmt.Errorf("httpapi: omnirank_http.yaml http section: %w", err)
	}
	var h annotations.Http
	if err := protojson.Unmarshal(js, &h); err != nil {
		return nil, fmt.Errorf("httpapi: omnirank_http.yaml http rules: %w", err)
	}
	return h.GetRules(), nil
}

// jsonCodec is vanguard's JSON codec with two changes: unknown fields are
// an error, not silently dropped (a typo like "querytext" must not become
// an empty query), and a request that does not decode is InvalidArgument
// (HTTP 400) instead of Unknown (500).
type jsonCodec struct{ vanguard.JSONCodec }

func newJSONCodec(res vanguard.TypeResolver) vanguard.Codec {
	return jsonCodec{vanguard.JSONCodec{
		MarshalOptions:   protojson.MarshalOptions{Resolver: res, EmitUnpopulated: true},
		UnmarshalOptions: protojson.UnmarshalOptions{Resolver: res},
	}}
}

func (c jsonCodec) Unmarshal(data []byte, msg proto.Message) error {
	if err := c.JSONCodec.Unmarshal(data, msg); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("decode %s: %w", msg.ProtoReflect().Descriptor().Name(), err))
	}
	return nil
}

func (c jsonCodec) UnmarshalField(data []byte, msg proto.Message, field protoreflect.FieldDescriptor) error {
	if err := c.JSONCodec.UnmarshalField(data, msg, field); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("decode %s.%s: %w", msg.ProtoReflect().Descriptor().Name(), field.Name(), err))
	}
	return nil
}

// connectByDefault lets a plain JSON POST to /omnirank.v1.<Service>/<Method>
// through as a Connect unary call: vanguard takes a JSON request without
// the Connect-Protocol-Version header for REST, where no rule has that
// path.
func connectByDefault(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		if r.Header.Get("Connect-Protocol-Version") == "" && (ct == "application/json" || strings.HasPrefix(ct, "application/json;")) {
			r = r.Clone(r.Context())
			r.Header.Set("Connect-Protocol-Version", "1")
		}
		next.ServeHTTP(w, r)
	})
}
