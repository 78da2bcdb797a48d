package metadata

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"

	"github.com/google/uuid"

	"github.com/mediamesh/mediamesh/ent/metadatadb"
	"github.com/mediamesh/mediamesh/ent/metadatadb/contentitem"
	"github.com/mediamesh/mediamesh/ent/metadatadb/metadataversion"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// A replay (`mediamesh replay`, see app/replay.go) reconciles the metadata with the CMS: it
// reads every content event and keeps only each item's last state, then applies that once per
// item, so that an item whose metadata diverged from the CMS (written by PUTs before the CMS
// became the one owner, or an item the service never heard of) gets exactly one new version with
// the CMS's values, and its history is not refilled with the states in between. Purged items lose
// their metadata. Metadata of ids that no event names is reported and left as it is: a topic
// whose oldest events have expired would otherwise lose real history.

// rebuild collects the last state of each item during a replay.
type rebuild struct {
	mu         sync.Mutex
	events     int
	unreadable int
	items      map[uuid.UUID]*final
}

// skip counts an event that could not be read.
func (r *rebuild) skip(eventbus.Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events++
	r.unreadable++
}

// final is the last state of an item among the replayed events.
type final struct {
	snapshot *cmsState // the newest snapshot; nil when no snapshot event was seen
	entity   string
	version  int64
	state    contentitem.State
}

func (r *rebuild) add(ch *change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events++
	f := r.items[ch.id]
	if f == nil {
		f = &final{entity: ch.entity, state: ch.state}
		r.items[ch.id] = f
	}
	if ch.snapshot != nil && (f.snapshot == nil || ch.version > f.snapshot.cmsVersion) {
		f.snapshot = ch.snapshot
	}
	if f.state != statePurged && ch.version >= f.version {
		f.state = ch.state
	}
	if ch.state == statePurged {
		f.state = statePurged
	}
	f.version = max(f.version, ch.version)
}

// Report is what a reconciling replay did.
type Report struct {
	Events   int // content events read
	Items    int // programs and episodes they name
	Appended int // metadata versions appended where the CMS's values differed (or there was none)
	Purged   int // purged items whose metadata was forgotten
	Orphans  int // items with metadata that no event names, left as they are
	// Unreadable counts the events skipped because this build cannot read them (written with a
	// schema it does not know); the items they name may be reconciled from older events.
	Unreadable int
}

func (r Report) String() string {
	return fmt.Sprintf("metadata: reconciled %d programs and episodes from %d content events: %d metadata versions appended with the CMS's values, %d purged items forgotten, %d items with metadata that no content event names left as they are, %d events skipped that this build cannot read",
		r.Items, r.Events, r.Appended, r.Purged, r.Orphans, r.Unreadable)
}

// BeginRebuild starts a reconciling replay: until commit or abort, HandleEvent only collects each
// item's last state; commit applies them and keeps the report (ReplayReport).
func (s *Service) BeginRebuild(context.Context) (commit, abort func(context.Context) error, err error) {
	s.rebuild = &rebuild{items: map[uuid.UUID]*final{}}
	commit = func(ctx context.Context) error {
		r := s.rebuild
		s.rebuild = nil
		rep, err := s.reconcile(ctx, r)
		s.report = rep
		return err
	}
	abort = func(context.Context) error { s.rebuild = nil; return nil }
	return commit, abort, nil
}

// ReplayReport returns what the last reconciling replay did.
func (s *Service) ReplayReport() string { return s.report.String() }

// reconcile applies the collected states, one transaction per item, in id order.
func (s *Service) reconcile(ctx context.Context, r *rebuild) (Report, error) {
	rep := Report{Events: r.events, Items: len(r.items), Unreadable: r.unreadable}
	ids := make([]uuid.UUID, 0, len(r.items))
	for id := range r.items {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	for _, id := range ids {
		f := r.items[id]
		err := s.db.InTx(ctx, func(tx *sql.Tx) error {
			if f.state == statePurged {
				n, err := s.txClient(tx).MetadataVersion.Query().Where(metadataversion.ContentIDEQ(id)).Count(ctx)
				if err != nil {
					return err
				}
				if n > 0 {
					rep.Purged++
				}
				return s.applyState(ctx, tx, id, f.entity, f.version, statePurged)
			}
			if f.snapshot != nil {
				st := *f.snapshot
				st.cmsVersion = f.version
				_, rec, err := s.recordState(ctx, tx, st, true, nil)
				if err != nil {
					return err
				}
				if rec.appended {
					rep.Appended++
				}
			}
			return s.setState(ctx, s.txClient(tx), id, f.entity, f.version, f.state)
		})
		if err != nil {
			return rep, fmt.Errorf("metadata: reconcile %s: %w", id, err)
		}
	}
	orphans, err := s.orphans(ctx)
	if err != nil {
		return rep, err
	}
	rep.Orphans = orphans
	s.log.InfoContext(ctx, rep.String())
	return rep, nil
}

// setState records an item's lifecycle state and CMS version as a replay found them.
func (s *Service) setState(ctx context.Context, c *metadatadb.Client, id uuid.UUID, entity string, version int64, state contentitem.State) error {
	item, err := c.ContentItem.Get(ctx, id)
	switch {
	case metadatadb.IsNotFound(err):
		// Only lifecycle events without a snapshot were read (their snapshots expired): the
		// item exists, but its fields are unknown until its next change.
		return c.ContentItem.Create().SetID(id).SetContentType(contentitem.ContentType(entity)).SetState(state).
			SetCmsVersion(max(version, 1)).SetUpdatedAt(s.clock()).Exec(ctx)
	case err != nil:
		return err
	}
	return c.ContentItem.UpdateOne(item).SetState(state).SetCmsVersion(max(version, item.CmsVersion, 1)).Exec(ctx)
}

// orphans counts the content ids that have metadata but no content item.
func (s *Service) orphans(ctx context.Context) (int, error) {
	var ids []uuid.UUID
	if err := s.read.MetadataVersion.Query().Unique(true).Select(metadataversion.FieldContentID).Scan(ctx, &ids); err != nil {
		return 0, fmt.Errorf("metadata: list the items with metadata: %w", err)
	}
	n := 0
	for _, chunk := range slices.Collect(slices.Chunk(ids, 500)) {
		known, err := s.read.ContentItem.Query().Where(contentitem.IDIn(chunk...)).Count(ctx)
		if err != nil {
			return 0, fmt.Errorf("metadata: look up content items: %w", err)
		}
		n += len(chunk) - known
	}
	return n, nil
}
