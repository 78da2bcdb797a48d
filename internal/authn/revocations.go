package authn

import (
	"errors"
	"sync"
	"time"
)

// ErrRevoked is the error of a token whose subject's tokens were revoked after it was issued.
var ErrRevoked = errors.New("token revoked")

// Revocations is what a verifier knows of revoked tokens: per subject, the time at or before which
// its tokens were issued to be void (the auth service's user.tokens_revoked events: an account
// disabled or deleted, its roles or password changed, a logout of every session). A revocation is
// forgotten once every token it voids has expired (keep: the longest token lifetime plus the
// verifier's leeway), so the map holds only the subjects revoked within that window. It is safe
// for concurrent use.
type Revocations struct {
	keep time.Duration
	now  func() time.Time

	mu     sync.RWMutex
	before map[string]time.Time
	swept  time.Time
}

// NewRevocations returns an empty set that forgets a revocation keep after it was made.
func NewRevocations(keep time.Duration) *Revocations {
	return &Revocations{keep: keep, now: time.Now, before: map[string]time.Time{}}
}

// KeySubject is the subject under which the revocation of API key id is kept: the tokens that key
// was exchanged for.
func KeySubject(id string) string { return "key:" + id }

// RoleSubject is the subject under which a revocation of every token carrying role is kept (the
// role lost a scope, so the scopes those tokens carry are more than the role grants now).
func RoleSubject(role string) string { return "role:" + role }

// Revoke voids the tokens of subject issued at or before at. A later revocation of the same subject
// moves the time on; an earlier one (an event delivered late) changes nothing.
func (r *Revocations) Revoke(subject string, at time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if now.Sub(at) > r.keep {
		return // every token it voids has expired
	}
	if cur, ok := r.before[subject]; !ok || at.After(cur) {
		r.before[subject] = at
	}
	if now.Sub(r.swept) > r.keep {
		r.swept = now
		for s, t := range r.before {
			if now.Sub(t) > r.keep {
				delete(r.before, s)
			}
		}
	}
}

// Revoked reports whether a token of subject issued at issuedAt is void. Token times are whole
// seconds, so a token issued in the second of a revocation is void too.
func (r *Revocations) Revoked(subject string, issuedAt time.Time) bool {
	r.mu.RLock()
	at, ok := r.before[subject]
	r.mu.RUnlock()
	return ok && issuedAt.Unix() <= at.Unix()
}

// Len is the number of subjects with a revocation still in force.
func (r *Revocations) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.before)
}
