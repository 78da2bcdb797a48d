package readmodel

import (
	"context"

	"github.com/hamba/avro/v2"

	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/mediaevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
)

// Removal says why content leaves a read model.
type Removal int

const (
	// Unpublished: content.unpublished.
	Unpublished Removal = iota
	// Deleted: content.deleted; a deleted program's episodes go too.
	Deleted
	// LeftPublished: a snapshot (content.updated) whose status is no longer published; only a
	// stored item is affected (drafts that were never published leave no trace).
	LeftPublished
)

// Applier is what a read model does with the content and category events: the service's
// projection, bound to the transaction of the run.
type Applier interface {
	// Published applies content.published.
	Published(ctx context.Context, e *contentevents.ContentPublished) error
	// Updated applies content.updated.
	Updated(ctx context.Context, e *contentevents.ContentUpdated) error
	// Removed takes the program or episode aggregateID out at version.
	Removed(ctx context.Context, aggregateType, aggregateID string, version int64, why Removal) error
	// CategoryUpserted applies category.upserted.
	CategoryUpserted(ctx context.Context, e *metadataevents.CategoryUpserted) error
	// CategoryDeleted applies category.deleted of the category aggregateID.
	CategoryDeleted(ctx context.Context, aggregateID string) error
}

// Change is a decoded event that affects a read model: its id, for the inbox, and its effect on
// the projection P.
type Change[P any] struct {
	EventID string
	Apply   func(ctx context.Context, p P) error
}

// Decoder returns the decoder of a read model's events (inbox.DecodeRun) for the consumer group
// consumer, whose topics' registries are lookups: the content and category events go to the
// Applier; other types go to more (nil: none), which says known false for the types the read
// model does not use. content.created is never used: drafts are never public.
func Decoder[P Applier](consumer string, lookups []func(uint64) (string, bool), more func(eventType string, payload []byte) (Change[P], bool, error)) inbox.Decoder[Change[P]] {
	return inbox.Decoder[Change[P]]{
		Consumer: consumer,
		Lookups:  lookups,
		Decode: func(eventType string, payload []byte) (Change[P], bool, error) {
			c, known, err := decodeContent[P](eventType, payload)
			if known || more == nil {
				return c, known, err
			}
			return more(eventType, payload)
		},
		ID: func(c Change[P]) string { return c.EventID },
	}
}

// decodeContent decodes the content and category events; known is false for other types.
func decodeContent[P Applier](eventType string, payload []byte) (Change[P], bool, error) {
	switch eventType {
	case contentevents.TypeContentPublished:
		return DecodeEvent(payload, func(e *contentevents.ContentPublished) Change[P] {
			return Change[P]{e.EventID, func(ctx context.Context, p P) error { return p.Published(ctx, e) }}
		})
	case contentevents.TypeContentUpdated:
		return DecodeEvent(payload, func(e *contentevents.ContentUpdated) Change[P] {
			return Change[P]{e.EventID, func(ctx context.Context, p P) error { return p.Updated(ctx, e) }}
		})
	case contentevents.TypeContentUnpublished:
		return DecodeEvent(payload, func(e *contentevents.ContentUnpublished) Change[P] {
			return removal[P](e.EventID, e.AggregateType, e.AggregateID, e.Version, Unpublished)
		})
	case contentevents.TypeContentDeleted:
		return DecodeEvent(payload, func(e *contentevents.ContentDeleted) Change[P] {
			return removal[P](e.EventID, e.AggregateType, e.AggregateID, e.Version, Deleted)
		})
	case metadataevents.TypeCategoryUpserted:
		return DecodeEvent(payload, func(e *metadataevents.CategoryUpserted) Change[P] {
			return Change[P]{e.EventID, func(ctx context.Context, p P) error { return p.CategoryUpserted(ctx, e) }}
		})
	case metadataevents.TypeCategoryDeleted:
		return DecodeEvent(payload, func(e *metadataevents.CategoryDeleted) Change[P] {
			return Change[P]{e.EventID, func(ctx context.Context, p P) error { return p.CategoryDeleted(ctx, e.AggregateID) }}
		})
	}
	return Change[P]{}, false, nil
}

// DecodeEvent decodes payload as the generated event E (eventbus.Decode, which reads its released
// versions too) and returns the change that change makes of it, known; a payload that does not
// decode is an error. A read model's decoder uses it for each event type it knows.
func DecodeEvent[E any, PE interface {
	*E
	AvroSchema() avro.Schema
}, P any](payload []byte, change func(PE) Change[P]) (Change[P], bool, error) {
	e := PE(new(E))
	if err := eventbus.Decode(payload, e.AvroSchema(), e); err != nil {
		return Change[P]{}, true, err
	}
	return change(e), true, nil
}

// removal is the change of content.unpublished or content.deleted: the program or episode
// aggregateID leaves the read model at version.
func removal[P Applier](eventID, aggregateType, aggregateID string, version int64, why Removal) Change[P] {
	return Change[P]{eventID, func(ctx context.Context, p P) error {
		return p.Removed(ctx, aggregateType, aggregateID, version, why)
	}}
}

// Takedown reports whether an event of eventType can take something out of public view, so the
// gateways' last good answers (cache.Takedowns) must go: content unpublished or deleted, a
// category deleted, an asset deleted. (An asset made private is another: discovery tells it from
// the event's content.)
func Takedown(eventType string) bool {
	switch eventType {
	case contentevents.TypeContentUnpublished, contentevents.TypeContentDeleted, metadataevents.TypeCategoryDeleted,
		mediaevents.TypeAssetDeleted:
		return true
	}
	return false
}
