package cms

import (
	"time"

	"github.com/mediamesh/mediamesh/ent/cmsdb"
	"github.com/mediamesh/mediamesh/ent/cmsdb/auditentry"
	"github.com/mediamesh/mediamesh/ent/cmsdb/episode"
	"github.com/mediamesh/mediamesh/ent/cmsdb/program"
	"github.com/mediamesh/mediamesh/gen/openapi/cmsapi"
	"github.com/mediamesh/mediamesh/internal/apierror"
)

// The publication statuses.
const (
	statusDraft     = string(cmsapi.PublicationStatusDraft)
	statusScheduled = string(cmsapi.PublicationStatusScheduled)
	statusPublished = string(cmsapi.PublicationStatusPublished)
	statusArchived  = string(cmsapi.PublicationStatusArchived)
)

// lifecycle is the publication state of a program or an episode.
type lifecycle struct {
	status      string
	scheduledAt *time.Time // set while scheduled
	publishedAt *time.Time // the first time it went live
	archivedAt  *time.Time // set while archived
	deletedAt   *time.Time // set once soft-deleted
}

// plan computes a transition: the next state and the audit action that records it, or an empty
// action when the transition is a no-op, or the error that refuses it.
type plan func(l lifecycle) (lifecycle, auditentry.Action, error)

// planPublish publishes now (at nil) or schedules at a future instant: draft and scheduled
// content can be published or (re)scheduled; published content is left alone without at and
// refuses a schedule; archived and soft-deleted content refuse both.
func planPublish(noun string, at *time.Time, now time.Time) plan {
	return func(l lifecycle) (lifecycle, auditentry.Action, error) {
		if err := refuseDeleted(noun, l); err != nil {
			return l, "", err
		}
		switch l.status {
		case statusArchived:
			return l, "", apierror.Conflict("the " + noun + " is archived; unpublish it first")
		case statusPublished:
			if at != nil {
				return l, "", apierror.Conflict("the " + noun + " is already published; unpublish it before scheduling it")
			}
			return l, "", nil
		}
		next := l
		// Publication instants are kept to the millisecond, the precision of the content events,
		// so that the CMS, the metadata service and the public side show the same instant.
		if at != nil {
			t := at.Truncate(time.Millisecond)
			if l.status == statusScheduled && l.scheduledAt != nil && l.scheduledAt.Equal(t) {
				return l, "", nil
			}
			next.status, next.scheduledAt = statusScheduled, &t
			return next, auditentry.ActionScheduled, nil
		}
		next.status, next.scheduledAt = statusPublished, nil
		if next.publishedAt == nil {
			t := now.Truncate(time.Millisecond)
			next.publishedAt = &t
		}
		return next, auditentry.ActionPublished, nil
	}
}

// planDue publishes scheduled content whose time has come; anything else is left alone (another
// process or an editor got there first).
func planDue(now time.Time) plan {
	return func(l lifecycle) (lifecycle, auditentry.Action, error) {
		if l.deletedAt != nil || l.status != statusScheduled || l.scheduledAt == nil || l.scheduledAt.After(now) {
			return l, "", nil
		}
		return planPublish("content", nil, now)(l)
	}
}

// planUnpublish returns content to draft from any status: it leaves the public, a pending
// schedule is cancelled, archived content is restored.
func planUnpublish(noun string) plan {
	return func(l lifecycle) (lifecycle, auditentry.Action, error) {
		if err := refuseDeleted(noun, l); err != nil {
			return l, "", err
		}
		if l.status == statusDraft {
			return l, "", nil
		}
		next := l
		next.status, next.scheduledAt, next.archivedAt = statusDraft, nil, nil
		return next, auditentry.ActionUnpublished, nil
	}
}

// planArchive archives content in any status; a pending schedule is cancelled.
func planArchive(noun string, now time.Time) plan {
	return func(l lifecycle) (lifecycle, auditentry.Action, error) {
		if err := refuseDeleted(noun, l); err != nil {
			return l, "", err
		}
		if l.status == statusArchived {
			return l, "", nil
		}
		next := l
		next.status, next.scheduledAt, next.archivedAt = statusArchived, nil, &now
		return next, auditentry.ActionArchived, nil
	}
}

// planDelete soft-deletes content; deleting it again is a no-op.
func planDelete(now time.Time) plan {
	return func(l lifecycle) (lifecycle, auditentry.Action, error) {
		if l.deletedAt != nil {
			return l, "", nil
		}
		next := l
		next.deletedAt = &now
		return next, auditentry.ActionDeleted, nil
	}
}

func refuseDeleted(noun string, l lifecycle) error {
	if l.deletedAt != nil {
		return apierror.Conflict("the " + noun + " is deleted")
	}
	return nil
}

func programLifecycle(p *cmsdb.Program) lifecycle {
	return lifecycle{status: string(p.Status), scheduledAt: p.ScheduledPublishAt, publishedAt: p.PublishedAt, archivedAt: p.ArchivedAt, deletedAt: p.DeletedAt}
}

func setProgramLifecycle(p *cmsdb.Program, l lifecycle) {
	p.Status, p.ScheduledPublishAt, p.PublishedAt, p.ArchivedAt, p.DeletedAt = program.Status(l.status), l.scheduledAt, l.publishedAt, l.archivedAt, l.deletedAt
}

func episodeLifecycle(e *cmsdb.Episode) lifecycle {
	return lifecycle{status: string(e.Status), scheduledAt: e.ScheduledPublishAt, publishedAt: e.PublishedAt, archivedAt: e.ArchivedAt, deletedAt: e.DeletedAt}
}

func setEpisodeLifecycle(e *cmsdb.Episode, l lifecycle) {
	e.Status, e.ScheduledPublishAt, e.PublishedAt, e.ArchivedAt, e.DeletedAt = episode.Status(l.status), l.scheduledAt, l.publishedAt, l.archivedAt, l.deletedAt
}
