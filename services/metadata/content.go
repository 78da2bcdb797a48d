package metadata

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"time"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/ent/metadatadb/contentitem"
	"github.com/mediamesh/mediamesh/ent/metadatadb/metadataversion"
	"github.com/mediamesh/mediamesh/ent/metadatadb/schema"
	"github.com/mediamesh/mediamesh/gen/events/contentevents"
	"github.com/mediamesh/mediamesh/gen/events/metadataevents"
	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/internal/eventbus"
	"github.com/mediamesh/mediamesh/internal/inbox"
	"github.com/mediamesh/mediamesh/internal/outbox"
	"github.com/mediamesh/mediamesh/internal/readmodel"
)

// One owner per field (docs/ARCHITECTURE.md, "Content metadata"): the CMS stores every descriptive
// field of programs and episodes. This service learns them, and which content exists with which
// type, from the CMS's content events (content.events), and records a metadata version whenever
// they change, whichever API the editor used: a PUT here is forwarded to the CMS (see items.go),
// and its answer is applied exactly as its event will be, so the PUT can answer with the version
// it made while the event, arriving before or after, finds nothing new. An event is applied once
// (the inbox, in the transaction of its effect); a snapshot whose CMS version is not newer than
// the one recorded for the item is ignored, so replays and redeliveries change nothing.

// ConsumerGroup is the consumer group of the service's subscription (content.events), and its
// inbox consumer name.
const ConsumerGroup = "metadata"

// States of a content item (ContentItemRecord.state).
const (
	stateLive    = contentitem.StateLive
	stateDeleted = contentitem.StateDeleted // soft-deleted in the CMS: still holds its references
	statePurged  = contentitem.StatePurged  // a tombstone: its metadata is forgotten
)

// systemID is the updated_by of versions recorded from changes nobody requested (the CMS's
// scheduler, and a reconciling replay of events without an actor).
var systemID = uuid.Nil

// cmsState is what the CMS says of a program or episode: its descriptive fields (as a metadata
// content, extra included), its program, and the CMS version they are from.
type cmsState struct {
	id         uuid.UUID
	content    content
	programID  *uuid.UUID
	cmsVersion int64
	actor      uuid.UUID // who made the change; systemID for the system
	traceID    string
}

// snapshotState turns a content snapshot into the state it describes. The publish date is the
// snapshot's published_at: when the content was, or is scheduled to be, published. An empty
// summary is no description.
func snapshotState(entity string, s *contentevents.ContentSnapshot, actor *string, traceID string) (cmsState, error) {
	id, err := uuid.Parse(s.ID)
	if err != nil {
		return cmsState{}, fmt.Errorf("snapshot id %q: %w", s.ID, err)
	}
	st := cmsState{id: id, cmsVersion: s.Version, actor: systemID, traceID: traceID, content: content{
		ContentType: entity, Title: s.Title, Language: s.Language, Tags: []string{}, Extra: []schema.ExtraField{},
	}}
	if s.Summary != nil && *s.Summary != "" {
		d := *s.Summary
		st.content.Description = &d
	}
	if st.content.CategoryID, err = readmodel.OptionalID(s.CategoryID); err != nil {
		return cmsState{}, fmt.Errorf("snapshot category_id: %w", err)
	}
	if st.programID, err = readmodel.OptionalID(s.ProgramID); err != nil {
		return cmsState{}, fmt.Errorf("snapshot program_id: %w", err)
	}
	if s.DurationSeconds != nil && *s.DurationSeconds >= 0 && *s.DurationSeconds <= math.MaxInt32 {
		d := int32(*s.DurationSeconds)
		st.content.DurationSeconds = &d
	}
	if s.PublishedAt != nil {
		t := s.PublishedAt.UTC().Truncate(time.Millisecond)
		st.content.PublishDate = &t
	}
	st.content.Tags = append(st.content.Tags, s.Tags...)
	for _, e := range s.Extra {
		st.content.Extra = append(st.content.Extra, schema.ExtraField{Key: e.Key, Value: e.Value})
	}
	if actor != nil {
		if a, err := uuid.Parse(*actor); err == nil {
			st.actor = a
		}
	}
	return st, nil
}

// Topics returns the topics the service consumes: content.events.
func (s *Service) Topics() []string { return []string{contentevents.TopicContentEvents} }

// change is what one content event says: a snapshot (created, updated, published) or a lifecycle
// step without one (unpublished: live; deleted: soft-deleted or purged).
type change struct {
	eventID  string
	snapshot *cmsState // nil for a lifecycle step
	id       uuid.UUID
	entity   string
	version  int64
	state    contentitem.State
}

// decodeChange decodes a content event; nil (and no error) for an event type this service ignores.
func decodeChange(m eventbus.Message) (*change, error) {
	eventType, err := eventbus.EventType(m, contentevents.EventTypeForFingerprint)
	if err != nil {
		return nil, fmt.Errorf("%s message %q: %w", m.Topic, m.Key, err)
	}
	return decodeChangeOf(eventType, m.Value)
}

// decoder reads runs of content events (HandleBatch).
var decoder = inbox.Decoder[*change]{
	Consumer: ConsumerGroup,
	Lookups:  []func(uint64) (string, bool){contentevents.EventTypeForFingerprint},
	Decode: func(eventType string, payload []byte) (*change, bool, error) {
		ch, err := decodeChangeOf(eventType, payload)
		return ch, ch != nil || err != nil, err
	},
	ID: func(ch *change) string { return ch.eventID },
}

// decodeChangeOf decodes the payload of a content event of eventType; nil for a type this service
// ignores.
func decodeChangeOf(eventType string, payload []byte) (*change, error) {
	m := eventbus.Message{Value: payload}
	var err error
	var (
		ch        change
		aggregate string
	)
	snap := func(entity string, sn *contentevents.ContentSnapshot, actor *string, trace string) error {
		st, err := snapshotState(entity, sn, actor, trace)
		if err == nil {
			ch.snapshot, ch.entity, ch.version, ch.state = &st, entity, st.cmsVersion, stateLive
		}
		return err
	}
	switch eventType {
	case contentevents.TypeContentCreated:
		var e contentevents.ContentCreated
		if err = eventbus.Decode(m.Value, e.AvroSchema(), &e); err == nil {
			ch.eventID, aggregate = e.EventID, e.AggregateID
			err = snap(string(e.AggregateType), &e.Snapshot, e.ActorID, e.TraceID)
		}
	case contentevents.TypeContentUpdated:
		var e contentevents.ContentUpdated
		if err = eventbus.Decode(m.Value, e.AvroSchema(), &e); err == nil {
			ch.eventID, aggregate = e.EventID, e.AggregateID
			err = snap(string(e.AggregateType), &e.Snapshot, e.ActorID, e.TraceID)
		}
	case contentevents.TypeContentPublished:
		var e contentevents.ContentPublished
		if err = eventbus.Decode(m.Value, e.AvroSchema(), &e); err == nil {
			ch.eventID, aggregate = e.EventID, e.AggregateID
			err = snap(string(e.AggregateType), &e.Snapshot, e.ActorID, e.TraceID)
		}
	case contentevents.TypeContentUnpublished:
		var e contentevents.ContentUnpublished
		if err = eventbus.Decode(m.Value, e.AvroSchema(), &e); err == nil {
			ch = change{eventID: e.EventID, entity: string(e.AggregateType), version: e.Version, state: stateLive}
			aggregate = e.AggregateID
		}
	case contentevents.TypeContentDeleted:
		var e contentevents.ContentDeleted
		if err = eventbus.Decode(m.Value, e.AvroSchema(), &e); err == nil {
			ch = change{eventID: e.EventID, entity: string(e.AggregateType), version: e.Version, state: statePurged}
			if e.Soft {
				ch.state = stateDeleted
			}
			aggregate = e.AggregateID
		}
	default:
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s event: %w", eventType, err)
	}
	if ch.eventID == "" {
		return nil, fmt.Errorf("%s event without event_id", eventType)
	}
	if ch.id, err = uuid.Parse(aggregate); err != nil {
		return nil, fmt.Errorf("%s event %s: aggregate_id: %w", eventType, ch.eventID, err)
	}
	return &ch, nil
}

// HandleEvent applies one content event: created, updated and published carry the content's
// snapshot, which records a metadata version when its descriptive fields differ from the current
// one; unpublished moves the known CMS version on; deleted marks the item soft-deleted, or, purged,
// forgets its metadata and leaves a tombstone. Other event types are ignored; a message that cannot
// be decoded is an error (the subscriber retries, then dead-letters it). During a rebuild (see
// BeginRebuild) it only collects each item's last state.
func (s *Service) HandleEvent(ctx context.Context, m eventbus.Message) error {
	ch, err := decodeChange(m)
	if err != nil && s.rebuild != nil {
		// A reconciling replay reads a whole topic, which may hold events this build cannot
		// read (written with a schema it does not know); they are counted and reported.
		s.rebuild.skip(m, err)
		s.log.WarnContext(ctx, "replay: event skipped", "topic", m.Topic, "key", m.Key, "error", err)
		return nil
	}
	if err != nil {
		return fmt.Errorf("metadata: %w", err)
	}
	if ch == nil {
		s.log.DebugContext(ctx, "event ignored", "topic", m.Topic, "key", m.Key)
		return nil
	}
	if s.rebuild != nil {
		s.rebuild.add(ch)
		return nil
	}
	for attempt := 1; ; attempt++ {
		_, err := inbox.Apply(ctx, s.db, ConsumerGroup, ch.eventID, func(tx *sql.Tx) error { return s.applyChange(ctx, tx, ch, nil) })
		if err == nil {
			return nil
		}
		// A PUT that applied the same item's CMS answer at the same moment took the version
		// number first: read again.
		if !database.IsUniqueViolation(err) || attempt == maxWriteAttempts {
			return fmt.Errorf("metadata: apply event %s: %w", ch.eventID, err)
		}
	}
}

// HandleBatch applies a run of content events in one transaction, in order (live delivery and
// replays hand over what is ready together); on an error nothing of the run is applied and the
// subscriber hands its messages over one at a time (HandleEvent), so a bad one fails alone.
func (s *Service) HandleBatch(ctx context.Context, msgs []eventbus.Message) error {
	if s.rebuild != nil {
		for _, m := range msgs {
			if err := s.HandleEvent(ctx, m); err != nil {
				return err
			}
		}
		return nil
	}
	events, err := inbox.DecodeRun(ctx, s.log, decoder, msgs)
	if err != nil || len(events) == 0 {
		return err
	}
	return s.db.InTx(ctx, func(tx *sql.Tx) error {
		run := seen{} // afresh for every attempt: what a rolled back attempt learnt is gone
		_, err := inbox.ApplyRun(ctx, s.db, tx, ConsumerGroup, events, len(msgs) > 1, func(ctx context.Context, e inbox.Event[*change]) error {
			return s.applyChange(ctx, tx, e.Change, run)
		})
		return err
	})
}

// seen keeps what a run of events learnt of the content items it touched, as the run left them:
// the item's state and CMS version and its current metadata version (nil: none), so that a later
// event of an item in the same run (its publication after its creation) reads neither again.
type seen map[uuid.UUID]*seenItem

type seenItem struct {
	state      contentitem.State
	cmsVersion int64
	cur        *metadatadb.MetadataVersion
}

// applyChange applies one change within tx; run, when not nil, is what the run's earlier changes
// learnt (see seen).
func (s *Service) applyChange(ctx context.Context, tx *sql.Tx, ch *change, run seen) error {
	if ch.snapshot != nil {
		_, _, err := s.recordState(ctx, tx, *ch.snapshot, false, run)
		return err
	}
	delete(run, ch.id) // a lifecycle change rewrites the item's row: read it again next time
	return s.applyState(ctx, tx, ch.id, ch.entity, ch.version, ch.state)
}

// recorded says what recordState did: appended a version, and whether it was version 1.
type recorded struct{ appended, first bool }

var none recorded

// recordState applies what the CMS says of an item within tx: the item's row (type, program,
// category, CMS version) and, when the descriptive fields differ from the current metadata version
// (or there is none), a new version with its metadata.updated event. A state whose CMS version is
// not newer than the recorded one, or of a purged item, changes nothing. It returns the item's
// current version afterwards (nil for a purged item) and what this call recorded.
//
// With force (a reconciling rebuild), the state is compared with the current metadata version even
// when its CMS version is not newer: what the CMS says wins.
//
// run, when not nil, is what the earlier events of a run of events learnt of the items (see seen);
// recordState reads an item it holds from there instead of the database, and leaves in it what it
// wrote.
func (s *Service) recordState(ctx context.Context, tx *sql.Tx, st cmsState, force bool, run seen) (*metadatadb.MetadataVersion, recorded, error) {
	c := s.txClient(tx)
	now := s.clock()
	known := run[st.id]
	if known == nil {
		item, err := c.ContentItem.Get(ctx, st.id)
		switch {
		case metadatadb.IsNotFound(err):
		case err != nil:
			return nil, none, fmt.Errorf("read content item %s: %w", st.id, err)
		default:
			known = &seenItem{state: item.State, cmsVersion: item.CmsVersion}
			if known.cur, err = latest(ctx, c, st.id); err != nil {
				return nil, none, err
			}
		}
	}
	switch {
	case known == nil:
		err := c.ContentItem.Create().SetID(st.id).SetContentType(contentitem.ContentType(st.content.ContentType)).
			SetNillableProgramID(st.programID).SetNillableCategoryID(st.content.CategoryID).
			SetState(stateLive).SetCmsVersion(st.cmsVersion).SetUpdatedAt(now).Exec(ctx)
		if err != nil {
			return nil, none, fmt.Errorf("record content item %s: %w", st.id, err)
		}
		// Versions of an id without a row are possible (older data): read them as before.
		known = &seenItem{state: stateLive, cmsVersion: st.cmsVersion}
		if known.cur, err = latest(ctx, c, st.id); err != nil {
			return nil, none, err
		}
	case known.state == statePurged:
		return nil, none, nil
	case st.cmsVersion <= known.cmsVersion && !force:
		return known.cur, none, nil
	default:
		// An UPDATE by id, not UpdateOne: that would read the row back, which nothing here needs.
		u := c.ContentItem.Update().Where(contentitem.ID(st.id)).
			SetCmsVersion(max(st.cmsVersion, known.cmsVersion)).SetUpdatedAt(now).SetNillableProgramID(st.programID)
		if st.content.CategoryID != nil {
			u.SetCategoryID(*st.content.CategoryID)
		} else {
			u.ClearCategoryID()
		}
		if err := u.Exec(ctx); err != nil {
			return nil, none, fmt.Errorf("record content item %s: %w", st.id, err)
		}
		known = &seenItem{state: known.state, cmsVersion: max(st.cmsVersion, known.cmsVersion), cur: known.cur}
	}
	if run != nil {
		run[st.id] = known
	}
	cur := known.cur
	next, createdAt := int32(1), now
	changed := changedFields(content{}, st.content)
	if cur != nil {
		changed = changedFields(contentOf(cur), st.content)
		if len(changed) == 0 {
			return cur, none, nil
		}
		if cur.Version == math.MaxInt32 {
			return nil, none, fmt.Errorf("content item %s has reached the highest metadata version number", st.id)
		}
		next, createdAt = cur.Version+1, cur.CreatedAt
	}
	in := st.content
	v, err := c.MetadataVersion.Create().
		SetContentID(st.id).
		SetContentType(metadataversion.ContentType(in.ContentType)).
		SetVersion(next).
		SetTitle(in.Title).
		SetNillableDescription(in.Description).
		SetNillableCategoryID(in.CategoryID).
		SetLanguage(in.Language).
		SetNillableDurationSeconds(in.DurationSeconds).
		SetNillablePublishDate(in.PublishDate).
		SetTags(in.Tags).
		SetExtra(in.Extra).
		SetUpdatedBy(st.actor).
		SetUpdatedAt(now).
		SetCreatedAt(createdAt).
		Save(ctx)
	if err != nil {
		return nil, none, fmt.Errorf("insert metadata version %d of %s: %w", next, st.id, err)
	}
	known.cur = v
	names := make([]string, len(changed))
	for i, f := range changed {
		names[i] = string(f)
	}
	var actor *string
	if st.actor != systemID {
		a := st.actor.String()
		actor = &a
	}
	cv := st.cmsVersion
	ev := &metadataevents.MetadataUpdated{
		EventID: newEventID(), OccurredAt: now, AggregateID: st.id.String(), TraceID: st.traceID, ActorID: actor,
		ContentType: in.ContentType, Version: int(next), CmsVersion: &cv, ChangedFields: names,
	}
	if err := outbox.Append(ctx, tx, s.db, ev, nil); err != nil {
		return nil, none, fmt.Errorf("metadata.updated event: %w", err)
	}
	return v, recorded{appended: true, first: next == 1}, nil
}

// applyState records a lifecycle event without a snapshot: unpublished (live, a newer CMS
// version), soft deleted, or purged, which forgets every metadata version of the item and keeps
// its row as a tombstone. An item this service has never seen is recorded only when purged (so
// that a late snapshot cannot bring it back).
func (s *Service) applyState(ctx context.Context, tx *sql.Tx, id uuid.UUID, entity string, version int64, state contentitem.State) error {
	c := s.txClient(tx)
	now := s.clock()
	item, err := c.ContentItem.Get(ctx, id)
	switch {
	case metadatadb.IsNotFound(err):
		if state != statePurged {
			return nil
		}
		err = c.ContentItem.Create().SetID(id).SetContentType(contentitem.ContentType(entity)).SetState(statePurged).
			SetCmsVersion(max(version, 1)).SetUpdatedAt(now).Exec(ctx)
	case err != nil:
		return fmt.Errorf("read content item %s: %w", id, err)
	case item.State == statePurged:
		return nil
	case state != statePurged && version <= item.CmsVersion:
		return nil
	default:
		err = c.ContentItem.UpdateOne(item).SetState(state).SetCmsVersion(max(version, item.CmsVersion)).SetUpdatedAt(now).Exec(ctx)
	}
	if err != nil {
		return fmt.Errorf("record content item %s: %w", id, err)
	}
	if state == statePurged {
		if _, err := c.MetadataVersion.Delete().Where(metadataversion.ContentIDEQ(id)).Exec(ctx); err != nil {
			return fmt.Errorf("forget the metadata of purged %s: %w", id, err)
		}
	}
	return nil
}

// Reset forgets what the service built from content events (the content items and the inbox).
// A replay does not call it (the service is a rebuilder, see reconcile.go); it is here for a
// consumer that must start over. The metadata versions stay.
func (s *Service) Reset(ctx context.Context) error {
	if err := inbox.Forget(ctx, s.db, ConsumerGroup); err != nil {
		return fmt.Errorf("metadata: reset: forget the inbox: %w", err)
	}
	if _, err := s.read.ContentItem.Delete().Exec(ctx); err != nil {
		return fmt.Errorf("metadata: reset: empty the content items: %w", err)
	}
	return nil
}
