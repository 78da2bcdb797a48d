package readmodel

import (
	"context"

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
func decodeContent[P Applier](eventType string, payload []byte) (c Change[P], known bool, err error) {
	switch eventType {
	case contentevents.TypeContentPublished:
		var e contentevents.ContentPublished
		err = eventbus.Decode(payload, e.AvroSchema(), &e)
		c = Change[P]{e.EventID, func(ctx context.Context, p P) error { return p.Published(ctx, &e) }}
	case contentevents.TypeContentUpdated:
		var e contentevents.ContentUpdated
		err = eventbus.Decode(payload, e.AvroSchema(), &e)
		c = Change[P]{e.EventID, func(ctx context.Context, p P) error { return p.Updated(ctx, &e) }}
	case contentevents.TypeContentUnpublished:
		var e contentevents.ContentUnpublished
		err = eventbus.Decode(payload, e.AvroSchema(), &e)
		c = Change[P]{e.EventID, func(ctx context.Context, p P) error {
			return p.Removed(ctx, e.AggregateType, e.AggregateID, e.Version, Unpublished)
		}}
	case contentevents.TypeContentDeleted:
		var e contentevents.ContentDeleted
		err = eventbus.Decode(payload, e.AvroSchema(), &e)
		c = Change[P]{e.EventID, func(ctx context.Context, p P) error {
			return p.Removed(ctx, e.AggregateType, e.AggregateID, e.Version, Deleted)
		}}
	case metadataevents.TypeCategoryUpserted:
		var e metadataevents.CategoryUpserted
		err = eventbus.Decode(payload, e.AvroSchema(), &e)
		c = Change[P]{e.EventID, func(ctx context.Context, p P) error { return p.CategoryUpserted(ctx, &e) }}
	case metadataevents.TypeCategoryDeleted:
		var e metadataevents.CategoryDeleted
		err = eventbus.Decode(payload, e.AvroSchema(), &e)
		c = Change[P]{e.EventID, func(ctx context.Context, p P) error { return p.CategoryDeleted(ctx, e.AggregateID) }}
	default:
		return Change[P]{}, false, nil
	}
	if err != nil {
		return Change[P]{}, true, err
	}
	return c, true, nil
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
