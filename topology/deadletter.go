package topology

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// PublishDeadLetter stores msg in the dead-letter stream under
// dlq.<ie.Stage>, with the reason, the attempts and the original message.
// Only once it returns nil may the caller drop (Term) the message;
// otherwise the message must stay for redelivery, or it would be lost.
func PublishDeadLetter(ctx context.Context, js jetstream.JetStream, ie IngestError, msg jetstream.Msg) error {
	if ie.Time.IsZero() {
		ie.Time = time.Now()
	}
	data, err := json.Marshal(DeadLetter{IngestError: ie, Subject: msg.Subject(), Original: msg.Data()})
	if err != nil {
		return fmt.Errorf("encode dead letter: %w", err)
	}
	if _, err := js.Publish(ctx, DLQSubject(ie.Stage), data); err != nil {
		return fmt.Errorf("publish dead letter to %s: %w", DLQSubject(ie.Stage), err)
	}
	return nil
}

// RecordError stores an operator-visible error for a product in the errors
// bucket (listed by AdminService.ListErrors and `omnirank status`).
func RecordError(ctx context.Context, kv jetstream.KeyValue, ie IngestError) error {
	if ie.Time.IsZero() {
		ie.Time = time.Now()
	}
	data, err := json.Marshal(ie)
	if err != nil {
		return fmt.Errorf("encode error record: %w", err)
	}
	if _, err := kv.Put(ctx, ie.ProductID, data); err != nil {
		return fmt.Errorf("record error for %s: %w", ie.ProductID, err)
	}
	return nil
}
