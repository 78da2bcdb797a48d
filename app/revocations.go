package app

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"

	"github.com/hamba/avro/v2"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/internal/authn"
	"github.com/mediamesh/mediamesh/internal/eventbus"
)

// revocationFeed applies the auth service's revocations to the revocations every verifier of the
// process checks, so a token stops working in every process, not only when it expires:
// user.tokens_revoked (an account disabled, deleted, its roles or password changed, logged out of
// every session), api_key.revoked (the tokens an API key was exchanged for) and
// role.scopes_reduced (the tokens carrying a role that lost scopes). Other auth events are ignored.
type revocationFeed struct{ revoked *authn.Revocations }

func (f revocationFeed) Topics() []string { return []string{authevents.TopicAuthEvents} }

func (f revocationFeed) HandleEvent(_ context.Context, m eventbus.Message) error {
	eventType, err := eventbus.EventType(m, authevents.EventTypeForFingerprint)
	if err != nil {
		return fmt.Errorf("revocations: %s message %q: %w", m.Topic, m.Key, err)
	}
	decode := func(e interface{ AvroSchema() avro.Schema }) error {
		if err := eventbus.Decode(m.Value, e.AvroSchema(), e); err != nil {
			return fmt.Errorf("revocations: %s event %s: %w", eventType, m.Headers[eventbus.HeaderEventID], err)
		}
		return nil
	}
	switch eventType {
	case authevents.TypeUserTokensRevoked:
		var e authevents.UserTokensRevoked
		if err := decode(&e); err != nil {
			return err
		}
		f.revoked.Revoke(e.UserID, e.RevokedAt)
	case authevents.TypeAPIKeyRevoked:
		var e authevents.APIKeyRevoked
		if err := decode(&e); err != nil {
			return err
		}
		f.revoked.Revoke(authn.KeySubject(e.KeyID), e.RevokedAt)
	case authevents.TypeRoleScopesReduced:
		var e authevents.RoleScopesReduced
		if err := decode(&e); err != nil {
			return err
		}
		f.revoked.Revoke(authn.RoleSubject(e.Role), e.RevokedAt)
	}
	return nil
}

// revocationGroup is the consumer group of this process's revocation feed. On Kafka every process
// needs every revocation, so each has a group of its own (which starts at the topic's first offset,
// so a process that starts learns the revocations still in force); in process one group serves all.
func revocationGroup(kafka bool) string {
	if !kafka {
		return "revocations"
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	host, _ := os.Hostname()
	return fmt.Sprintf("revocations-%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}
