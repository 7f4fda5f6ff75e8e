// Package topology declares every NATS JetStream stream, consumer, subject
// family and key-value bucket omnirank uses, in one place, and creates them
// idempotently. Roles learn about each other only through what is declared
// here.
//
//	omnirank.s3events              S3 event notifications (stream S3EVENTS)
//	jobs.<modality>.<lane>         extraction work (stream JOBS, work queue)
//	features.<space>.<product>.<m> per-modality features (stream FEATURES, last per subject)
//	emb.<space>.<product>          joint embeddings (stream EMB, last per subject: the embedding store)
//	feedback.<kind>.<user-token>   user feedback (stream FEEDBACK; the token is
//	                               FeedbackUserToken, so one user's events can be
//	                               purged by subject; feedback.<kind> is the older
//	                               layout, still accepted)
//	impressions.<user-token>       what Recommend showed, sampled (stream IMPRESSIONS;
//	                               impressions.anonymous without a user)
//	dlq.<stage>                    dead letters (stream DLQ)
//
// KV buckets: products (catalogue records with ingest state), spaces
// (embedding space definitions and the "active" alias), errors (ingest
// errors an operator can list), campaigns (the re-embedding campaign's
// state, see Campaign), forgotten (users erased by `omnirank users forget`,
// keyed by user token, see Forgotten), ranker-models (learned ranker
// models, newest under RankerModelKey), transcripts (what the speech
// recogniser heard in a product's speech-marked audio, see Transcript),
// speech (the catalogue language model's version).
//
// jobs.speech.live carries speech-to-text jobs (role extract:speech); speech
// is not a block of any space, its transcript joins the product's text.
package topology

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Stream names.
const (
	StreamS3Events = "S3EVENTS"
	StreamJobs     = "JOBS"
	StreamFeatures = "FEATURES"
	StreamEmb      = "EMB"
	StreamFeedback = "FEEDBACK"
	StreamDLQ      = "DLQ"
	// StreamImpressions holds what Recommend responses showed (issue 12),
	// for training to join with feedback by request id.
	StreamImpressions = "IMPRESSIONS"
)

// KV bucket names.
const (
	BucketProducts = "products"
	BucketSpaces   = "spaces"
	BucketErrors   = "errors"
	// BucketCampaigns holds the re-embedding campaign (key CampaignKey)
	// and finished ones (CampaignHistoryKey).
	BucketCampaigns = "campaigns"
	// BucketForgotten holds one Forgotten record per erased user, keyed by
	// FeedbackUserToken; rankers watch it. Entries expire with the
	// feedback retention, when nothing of the user can be left anyway.
	BucketForgotten = "forgotten"
	// BucketRankerModels holds the learned ranker model (package learn),
	// key RankerModelKey; each publish is a new revision (the last 16 are
	// kept) and rankers hot-load the newest.
	BucketRankerModels = "ranker-models"
	// BucketTranscripts holds one Transcript per product whose audio is
	// marked as speech, keyed by product id (issue 16).
	BucketTranscripts = "transcripts"
	// BucketSpeech holds the version of the catalogue's speech language
	// model under SpeechLMKey; the model's files are in the object store
	// under storage.SpeechLMPrefix (issue 16).
	BucketSpeech = "speech"
)

// SpeechLMKey is the key of the current catalogue language model's version
// in BucketSpeech.
const SpeechLMKey = "lm"

// SpeechModality names the speech-to-text jobs (jobs.speech.<lane>) and
// their consumer; it is not a block of any space.
const SpeechModality = "speech"

// RankerModelKey is the key of the newest learned ranker model in
// BucketRankerModels.
const RankerModelKey = "ranker"

// FeedbackRetention is how long the FEEDBACK stream keeps events (MaxAge);
// events dated earlier are rejected.
const FeedbackRetention = 180 * 24 * time.Hour

// ImpressionRetention is how long the IMPRESSIONS stream keeps what
// Recommend showed (MaxAge).
const ImpressionRetention = 30 * 24 * time.Hour

// ImpressionSubject is the subject of an impression of a user's request:
// impressions.<FeedbackUserToken(user)>, or impressions.anonymous without
// a user (tokens are hex, so the two never meet).
func ImpressionSubject(user string) string {
	if user == "" {
		return "impressions.anonymous"
	}
	return "impressions." + FeedbackUserToken(user)
}

// S3EventsSubject is where the object store publishes its S3 event
// notifications (versitygw's NatsTopic, MinIO's MINIO_NOTIFY_NATS_SUBJECT).
const S3EventsSubject = "omnirank.s3events"

// Lane orders extraction work: workers drain Live before Backfill.
type Lane string

// Lanes.
const (
	LaneLive     Lane = "live"
	LaneBackfill Lane = "backfill"
)

// JobSubject is the subject of an extraction job.
func JobSubject(modality string, lane Lane) string { return "jobs." + modality + "." + string(lane) }

// FeaturesSubject is the subject holding the latest features of one
// modality of one product in one space.
func FeaturesSubject(space, product, modality string) string {
	return "features." + space + "." + product + "." + modality
}

// EmbSubject is the subject holding the joint embedding of a product.
func EmbSubject(space, product string) string { return "emb." + space + "." + product }

// FeaturesFilter matches every features message of a space.
func FeaturesFilter(space string) string { return "features." + space + ".>" }

// EmbFilter matches every embedding of a space.
func EmbFilter(space string) string { return "emb." + space + ".>" }

// FeedbackSubject is the subject of one kind of feedback event of one
// user: feedback.<kind>.<FeedbackUserToken(user)>.
func FeedbackSubject(kind, user string) string {
	return "feedback." + kind + "." + FeedbackUserToken(user)
}

// FeedbackUserFilter matches every feedback event of one user published
// on the per-user subjects.
func FeedbackUserFilter(user string) string { return "feedback.*." + FeedbackUserToken(user) }

// FeedbackUserToken is the subject token (and forgotten-bucket key) of a
// user id: 32 hex digits of its SHA-256. User ids may hold any character,
// subject tokens may not; the token also keeps ids out of subjects.
func FeedbackUserToken(user string) string {
	sum := sha256.Sum256([]byte(user))
	return hex.EncodeToString(sum[:16])
}

// DLQSubject is the dead-letter subject of a stage.
func DLQSubject(stage string) string { return "dlq." + stage }

// ProductFromEmbSubject returns the product id of an emb.<space>.<product> subject.
func ProductFromEmbSubject(subject string) (space, product string, ok bool) {
	parts := strings.SplitN(subject, ".", 3)
	if len(parts) != 3 || parts[0] != "emb" {
		return "", "", false
	}
	return parts[1], parts[2], true
}

// Modalities are the modalities the pipeline carries, in a stable order.
var Modalities = []string{"text", "image", "audio"}

// Consumer names.
const (
	ConsumerIngest = "ingest"
	ConsumerFusion = "fusion"
)

// retiredConsumers are durable consumers earlier releases declared and
// Ensure now deletes: "ranker-feedback" was never read (every ranker
// replica replays FEEDBACK with its own ordered consumer, so that each has
// the complete history), so its backlog only grew in `omnirank status`.
var retiredConsumers = []struct{ stream, name string }{
	{StreamFeedback, "ranker-feedback"},
}

// SpeechConsumer is the durable consumer of the speech-to-text jobs
// (jobs.speech.live; ExtractConsumer's name for that modality and lane).
var SpeechConsumer = ExtractConsumer(SpeechModality, LaneLive)

// ExtractConsumer is the durable consumer of one modality and lane.
func ExtractConsumer(modality string, lane Lane) string {
	return "extract-" + modality + "-" + string(lane)
}

// MaxDeliver is how often a message that keeps failing is delivered before
// it is dead-lettered.
const MaxDeliver = 5

// MaxTransientDeliver bounds retries of failures of the infrastructure
// (object store or NATS unreachable): with RetryDelay capped at 30 s, about
// 14 minutes of outage before a message is dead-lettered.
const MaxTransientDeliver = 32

// Options tune the topology for a deployment.
type Options struct {
	// Replicas for every stream and bucket (1 for a single server).
	Replicas int
	// AckWait is how long a consumer may hold a message before redelivery.
	AckWait time.Duration
}

// DefaultOptions suits a single embedded server.
func DefaultOptions() Options { return Options{Replicas: 1, AckWait: 60 * time.Second} }

// Streams returns every stream's configuration.
func Streams(o Options) []jetstream.StreamConfig {
	r := max(o.Replicas, 1)
	return []jetstream.StreamConfig{
		{Name: StreamS3Events, Subjects: []string{S3EventsSubject}, Retention: jetstream.LimitsPolicy,
			MaxAge: 7 * 24 * time.Hour, Storage: jetstream.FileStorage, Replicas: r},
		{Name: StreamJobs, Subjects: []string{"jobs.*.*"}, Retention: jetstream.WorkQueuePolicy,
			Storage: jetstream.FileStorage, Replicas: r, Duplicates: 10 * time.Minute},
		{Name: StreamFeatures, Subjects: []string{"features.*.*.*"}, Retention: jetstream.LimitsPolicy,
			MaxMsgsPerSubject: 1, Storage: jetstream.FileStorage, Replicas: r, Duplicates: 10 * time.Minute},
		{Name: StreamEmb, Subjects: []string{"emb.*.*"}, Retention: jetstream.LimitsPolicy,
			MaxMsgsPerSubject: 1, Storage: jetstream.FileStorage, Replicas: r},
		{Name: StreamFeedback, Subjects: []string{"feedback.*", "feedback.*.*"}, Retention: jetstream.LimitsPolicy,
			MaxAge: FeedbackRetention, Storage: jetstream.FileStorage, Replicas: r, Duplicates: 10 * time.Minute},
		{Name: StreamDLQ, Subjects: []string{"dlq.*"}, Retention: jetstream.LimitsPolicy,
			MaxAge: 30 * 24 * time.Hour, Storage: jetstream.FileStorage, Replicas: r},
		{Name: StreamImpressions, Subjects: []string{"impressions.*"}, Retention: jetstream.LimitsPolicy,
			MaxAge: ImpressionRetention, Storage: jetstream.FileStorage, Replicas: r, Duplicates: 2 * time.Minute},
	}
}

// KeyValues returns every KV bucket's configuration.
func KeyValues(o Options) []jetstream.KeyValueConfig {
	r := max(o.Replicas, 1)
	return []jetstream.KeyValueConfig{
		{Bucket: BucketProducts, Description: "catalogue records with ingest state", Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: BucketSpaces, Description: "embedding spaces and aliases", History: 16, Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: BucketErrors, Description: "ingest errors by product", Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: BucketCampaigns, Description: "re-embedding campaigns", History: 8, Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: BucketForgotten, Description: "users erased from feedback", TTL: FeedbackRetention, Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: BucketRankerModels, Description: "learned ranker models", History: 16, Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: BucketTranscripts, Description: "transcripts of speech-marked product audio", Storage: jetstream.FileStorage, Replicas: r},
		{Bucket: BucketSpeech, Description: "catalogue speech language model version", History: 8, Storage: jetstream.FileStorage, Replicas: r},
	}
}

// Consumers returns every durable consumer's stream and configuration.
func Consumers(o Options, modalities []string) map[string]jetstream.ConsumerConfig {
	ack := o.AckWait
	if ack <= 0 {
		ack = DefaultOptions().AckWait
	}
	base := func(name, filter string) jetstream.ConsumerConfig {
		return jetstream.ConsumerConfig{
			Durable: name, FilterSubject: filter, AckPolicy: jetstream.AckExplicitPolicy,
			AckWait: ack, MaxDeliver: -1, MaxAckPending: 1024,
		}
	}
	cs := map[string]jetstream.ConsumerConfig{
		StreamS3Events + "/" + ConsumerIngest: base(ConsumerIngest, S3EventsSubject),
		StreamFeatures + "/" + ConsumerFusion: base(ConsumerFusion, "features.>"),
	}
	// Speech-to-text jobs (role extract:speech) have a live lane only:
	// ingest queues them, campaigns never do. Its filter, jobs.speech.live,
	// overlaps no modality's (the JOBS work queue allows one consumer per
	// subject).
	sc := base(SpeechConsumer, JobSubject(SpeechModality, LaneLive))
	cs[StreamJobs+"/"+sc.Durable] = sc
	for _, m := range modalities {
		for _, l := range []Lane{LaneLive, LaneBackfill} {
			c := base(ExtractConsumer(m, l), JobSubject(m, l))
			cs[StreamJobs+"/"+c.Durable] = c
		}
	}
	return cs
}

// Ensure creates or updates every stream, KV bucket and durable consumer.
// It is idempotent and safe to run from every role at start. New streams
// and buckets get Options.Replicas; existing ones keep their replica count
// (scaling moves data: an operator's decision, `nats stream edit NAME
// --replicas N`), and ReplicaMismatches reports the difference.
func Ensure(ctx context.Context, js jetstream.JetStream, o Options, modalities []string) error {
	for _, sc := range Streams(o) {
		have, ok, err := existingReplicas(ctx, js, sc.Name)
		if err != nil {
			return err
		}
		if ok {
			sc.Replicas = have
		}
		if _, err := js.CreateOrUpdateStream(ctx, sc); err != nil {
			return fmt.Errorf("ensure stream %s: %w", sc.Name, err)
		}
	}
	for _, kc := range KeyValues(o) {
		if err := ensureKeyValue(ctx, js, kc); err != nil {
			return err
		}
	}
	for key, cc := range Consumers(o, modalities) {
		stream, _, _ := strings.Cut(key, "/")
		if _, err := js.CreateOrUpdateConsumer(ctx, stream, cc); err != nil {
			return fmt.Errorf("ensure consumer %s: %w", key, err)
		}
	}
	for _, rc := range retiredConsumers {
		if err := js.DeleteConsumer(ctx, rc.stream, rc.name); err != nil && !errors.Is(err, jetstream.ErrConsumerNotFound) {
			return fmt.Errorf("delete retired consumer %s/%s: %w", rc.stream, rc.name, err)
		}
	}
	return nil
}

// ensureKeyValue creates or updates a KV bucket. A replicated bucket is
// read from its stream leader: nats.go creates every bucket with direct
// gets allowed, which any replica answers, so a Get right after a Put
// (from the same process or another) could read an older value or "not
// found" from a follower that has not applied the write yet; with three
// replicas that made a process's start fail ("space starter-v1: space not
// found" right after storing it). An existing bucket whose settings already
// match is not updated, so that its leader reads are never switched off,
// even briefly, for the processes binding to it meanwhile.
func ensureKeyValue(ctx context.Context, js jetstream.JetStream, kc jetstream.KeyValueConfig) error {
	st, err := js.Stream(ctx, kvStream(kc.Bucket))
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
			return fmt.Errorf("ensure kv %s: %w", kc.Bucket, err)
		}
	case err != nil:
		return fmt.Errorf("stream %s: %w", kvStream(kc.Bucket), err)
	default:
		have := st.CachedInfo().Config
		kc.Replicas = max(have.Replicas, 1)
		if !kvMatches(have, kc) {
			if _, err := js.CreateOrUpdateKeyValue(ctx, kc); err != nil {
				return fmt.Errorf("ensure kv %s: %w", kc.Bucket, err)
			}
		}
	}
	if kc.Replicas <= 1 {
		return nil
	}
	if st, err = js.Stream(ctx, kvStream(kc.Bucket)); err != nil {
		return fmt.Errorf("stream %s: %w", kvStream(kc.Bucket), err)
	}
	if cfg := st.CachedInfo().Config; cfg.AllowDirect {
		cfg.AllowDirect = false
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("kv %s: read from the leader (allow_direct off): %w", kc.Bucket, err)
		}
	}
	return nil
}

// kvMatches reports whether an existing KV stream already has the
// settings kc asks for (those Ensure's buckets set).
func kvMatches(have jetstream.StreamConfig, kc jetstream.KeyValueConfig) bool {
	return have.Description == kc.Description && have.MaxMsgsPerSubject == int64(max(kc.History, 1)) &&
		have.MaxAge == kc.TTL && have.Storage == kc.Storage
}

// kvStream is the stream behind a KV bucket.
func kvStream(bucket string) string { return "KV_" + bucket }

// existingReplicas is the replica count of stream, if it exists.
func existingReplicas(ctx context.Context, js jetstream.JetStream, stream string) (int, bool, error) {
	st, err := js.Stream(ctx, stream)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("stream %s: %w", stream, err)
	}
	return max(st.CachedInfo().Config.Replicas, 1), true, nil
}

// Mismatch is an existing stream or KV bucket whose replica count differs
// from the one the options ask for.
type Mismatch struct {
	Kind, Name string // Kind: "stream" or "kv"
	Have, Want int
}

func (m Mismatch) String() string {
	return fmt.Sprintf("%s %s has %d replicas, want %d", m.Kind, m.Name, m.Have, m.Want)
}

// ReplicaMismatches lists the existing streams and KV buckets whose
// replica count differs from o.Replicas.
func ReplicaMismatches(ctx context.Context, js jetstream.JetStream, o Options) ([]Mismatch, error) {
	want := max(o.Replicas, 1)
	var out []Mismatch
	check := func(kind, name, stream string) error {
		have, ok, err := existingReplicas(ctx, js, stream)
		if err != nil || !ok {
			return err
		}
		if have != want {
			out = append(out, Mismatch{Kind: kind, Name: name, Have: have, Want: want})
		}
		return nil
	}
	for _, sc := range Streams(o) {
		if err := check("stream", sc.Name, sc.Name); err != nil {
			return nil, err
		}
	}
	for _, kc := range KeyValues(o) {
		if err := check("kv", kc.Bucket, kvStream(kc.Bucket)); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Consumer returns the durable consumer declared under stream/name.
func Consumer(ctx context.Context, js jetstream.JetStream, stream, name string) (jetstream.Consumer, error) {
	c, err := js.Consumer(ctx, stream, name)
	if err != nil {
		return nil, fmt.Errorf("consumer %s/%s (was topology.Ensure run?): %w", stream, name, err)
	}
	return c, nil
}
