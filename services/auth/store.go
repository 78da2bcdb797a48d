package auth

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	entsql "entgo.io/ent/dialect/sql"

	"github.com/mediamesh/mediamesh/ent/authdb"
	"github.com/mediamesh/mediamesh/ent/authdb/oidclogin"
	"github.com/mediamesh/mediamesh/ent/authdb/predicate"
	"github.com/mediamesh/mediamesh/ent/authdb/refreshtoken"
	"github.com/mediamesh/mediamesh/ent/authdb/signingkey"
	entuser "github.com/mediamesh/mediamesh/ent/authdb/user"
	"github.com/mediamesh/mediamesh/ent/authdb/useridentity"
	"github.com/mediamesh/mediamesh/internal/database"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations are the versioned migrations of the auth database: the first four written by hand
// before the service moved to ent (kept, since databases have applied them), the rest by
// tools/entmigrate from the ent schema (make migration). The caller applies them (with the
// outbox's) before New.
var Migrations = database.Migrations{Component: "auth", FS: migrationFiles}

var errNotFound = errors.New("not found")

// user is a user account as the service works with it (the ent row ent/authdb.User, with its
// roles split and its instants as times).
type user struct {
	ID           string
	Email        string
	DisplayName  string
	PasswordHash string
	Roles        []string
	Disabled     bool
	Locale       string
	Version      int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  *time.Time
	// PasswordChangeRequired: the password was not chosen by the user (a one-time or reset one).
	PasswordChangeRequired bool
}

// store is the auth service's persistence, on the ent client of ent/authdb. Every method takes
// the client to run on: pool (outside transactions), or in(tx) for a transaction of
// database.DB.InTx, so that its writes commit together with the outbox row of the change.
type store struct {
	db   *database.DB
	pool *authdb.Client
}

func newStore(db *database.DB) *store {
	return &store{db: db, pool: authdb.NewClient(authdb.Driver(db.Ent()))}
}

// in is the ent client that runs in tx.
func (s *store) in(tx *sql.Tx) *authdb.Client {
	return authdb.NewClient(authdb.Driver(s.db.EntTx(tx)))
}

// Instants are stored as Unix milliseconds (the columns the service has had from its first
// migration; see the MilliTime schema of specs/openapi/auth.yaml).
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func nullMS(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	v := ms(*t)
	return &v
}

func fromNullMS(v *int64) *time.Time {
	if v == nil {
		return nil
	}
	t := fromMS(*v)
	return &t
}

// notFound maps ent's not-found error to errNotFound.
func notFound(err error) error {
	if authdb.IsNotFound(err) {
		return errNotFound
	}
	return err
}

func fromUserRow(r *authdb.User) *user {
	return &user{
		ID: r.ID, Email: r.Email, DisplayName: r.DisplayName, PasswordHash: r.PasswordHash,
		Roles: splitRoles(r.Roles), Disabled: r.Disabled, Locale: r.Locale, Version: r.Version,
		CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt), LastLoginAt: fromNullMS(r.LastLoginAt),
		PasswordChangeRequired: r.PasswordChangeRequired,
	}
}

func splitRoles(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// hasRole matches the users holding role in their comma-separated roles.
func hasRole(role string) predicate.User {
	return entuser.Or(entuser.Roles(role), entuser.RolesHasPrefix(role+","), entuser.RolesHasSuffix(","+role), entuser.RolesContains(","+role+","))
}

func (s *store) userByID(ctx context.Context, c *authdb.Client, id string) (*user, error) {
	r, err := c.User.Get(ctx, id)
	if err != nil {
		return nil, notFound(err)
	}
	return fromUserRow(r), nil
}

func (s *store) userByEmail(ctx context.Context, c *authdb.Client, email string) (*user, error) {
	r, err := c.User.Query().Where(entuser.Email(strings.ToLower(email))).Only(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	return fromUserRow(r), nil
}

var errEmailTaken = errors.New("email taken")

func (s *store) insertUser(ctx context.Context, c *authdb.Client, u *user) error {
	err := c.User.Create().
		SetID(u.ID).SetEmail(strings.ToLower(u.Email)).SetDisplayName(u.DisplayName).SetPasswordHash(u.PasswordHash).
		SetRoles(strings.Join(u.Roles, ",")).SetDisabled(u.Disabled).SetLocale(u.Locale).SetVersion(u.Version).
		SetCreatedAt(ms(u.CreatedAt)).SetUpdatedAt(ms(u.UpdatedAt)).SetPasswordChangeRequired(u.PasswordChangeRequired).
		Exec(ctx)
	if err != nil && database.IsUniqueViolation(err) {
		return errEmailTaken
	}
	return err
}

// updateUser writes u if the stored version is still u.Version-1 (optimistic concurrency).
func (s *store) updateUser(ctx context.Context, c *authdb.Client, u *user) error {
	n, err := c.User.Update().Where(entuser.ID(u.ID), entuser.Version(u.Version-1)).
		SetDisplayName(u.DisplayName).SetPasswordHash(u.PasswordHash).SetRoles(strings.Join(u.Roles, ",")).
		SetDisabled(u.Disabled).SetLocale(u.Locale).SetVersion(u.Version).SetUpdatedAt(ms(u.UpdatedAt)).
		SetPasswordChangeRequired(u.PasswordChangeRequired).
		Save(ctx)
	if err != nil {
		return err
	}
	if n != 1 {
		return errStale
	}
	return nil
}

var errStale = errors.New("the user changed meanwhile")

func (s *store) touchLogin(ctx context.Context, c *authdb.Client, id string, at time.Time) error {
	return c.User.Update().Where(entuser.ID(id)).SetLastLoginAt(ms(at)).Exec(ctx)
}

// deleteUser deletes a user with its refresh tokens, API keys and linked identities.
func (s *store) deleteUser(ctx context.Context, c *authdb.Client, id string) error {
	if _, err := c.RefreshToken.Delete().Where(refreshtoken.UserID(id)).Exec(ctx); err != nil {
		return err
	}
	if _, err := c.ApiKey.Delete().Where(apikeyOwner(id)).Exec(ctx); err != nil {
		return err
	}
	if _, err := c.UserIdentity.Delete().Where(useridentity.UserID(id)).Exec(ctx); err != nil {
		return err
	}
	n, err := c.User.Delete().Where(entuser.ID(id)).Exec(ctx)
	if err != nil {
		return err
	}
	if n != 1 {
		return errNotFound
	}
	return nil
}

// enabledAdmins counts enabled users holding ADMIN.
func (s *store) enabledAdmins(ctx context.Context, c *authdb.Client) (int, error) {
	return c.User.Query().Where(entuser.Disabled(false), hasRole("ADMIN")).Count(ctx)
}

type userFilter struct {
	Role     string
	Prefix   string
	Disabled *bool
	After    string // id of the last user of the previous page
	Limit    int
}

// listUsers returns up to f.Limit+1 users in id order (ids are time-ordered UUIDv7), so the caller
// knows whether another page exists without counting.
func (s *store) listUsers(ctx context.Context, f userFilter) ([]*user, error) {
	query := s.pool.User.Query()
	if f.Role != "" {
		query.Where(hasRole(f.Role))
	}
	if f.Prefix != "" {
		query.Where(entuser.EmailHasPrefix(strings.ToLower(f.Prefix)))
	}
	if f.Disabled != nil {
		query.Where(entuser.Disabled(*f.Disabled))
	}
	if f.After != "" {
		query.Where(entuser.IDGT(f.After))
	}
	rows, err := query.Order(entuser.ByID()).Limit(f.Limit + 1).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*user, len(rows))
	for i, r := range rows {
		out[i] = fromUserRow(r)
	}
	return out, nil
}

// refreshToken is a refresh token as the service works with it; the token itself is never
// stored, only its SHA-256.
type refreshToken struct {
	Hash      string
	FamilyID  string
	UserID    string
	IssuedAt  time.Time
	ExpiresAt time.Time
	Used      bool
	Revoked   bool
}

func (s *store) insertRefresh(ctx context.Context, c *authdb.Client, t *refreshToken) error {
	return c.RefreshToken.Create().
		SetID(t.Hash).SetFamilyID(t.FamilyID).SetUserID(t.UserID).SetIssuedAt(ms(t.IssuedAt)).SetExpiresAt(ms(t.ExpiresAt)).
		Exec(ctx)
}

func (s *store) refreshByHash(ctx context.Context, c *authdb.Client, hash string) (*refreshToken, error) {
	r, err := c.RefreshToken.Get(ctx, hash)
	if err != nil {
		return nil, notFound(err)
	}
	return &refreshToken{Hash: r.ID, FamilyID: r.FamilyID, UserID: r.UserID, IssuedAt: fromMS(r.IssuedAt), ExpiresAt: fromMS(r.ExpiresAt),
		Used: r.UsedAt != nil, Revoked: r.RevokedAt != nil}, nil
}

// markUsed consumes a refresh token; false when another request consumed it first.
func (s *store) markUsed(ctx context.Context, c *authdb.Client, hash string, at time.Time) (bool, error) {
	n, err := c.RefreshToken.Update().
		Where(refreshtoken.ID(hash), refreshtoken.UsedAtIsNil(), refreshtoken.RevokedAtIsNil()).
		SetUsedAt(ms(at)).Save(ctx)
	return n == 1, err
}

func (s *store) revokeFamily(ctx context.Context, c *authdb.Client, family string, at time.Time) error {
	return c.RefreshToken.Update().Where(refreshtoken.FamilyID(family), refreshtoken.RevokedAtIsNil()).SetRevokedAt(ms(at)).Exec(ctx)
}

func (s *store) revokeUser(ctx context.Context, c *authdb.Client, userID string, at time.Time) error {
	return c.RefreshToken.Update().Where(refreshtoken.UserID(userID), refreshtoken.RevokedAtIsNil()).SetRevokedAt(ms(at)).Exec(ctx)
}

// signingKey is an EdDSA signing key.
type signingKey struct {
	Kid       string
	Seed      []byte
	CreatedAt time.Time
	RetireAt  time.Time // no longer used to sign after this
	ExpiresAt time.Time // no longer published after this
}

func (s *store) insertKey(ctx context.Context, k *signingKey) error {
	return s.pool.SigningKey.Create().
		SetID(k.Kid).SetPrivateSeed(encodeSeed(k.Seed)).SetCreatedAt(ms(k.CreatedAt)).SetRetireAt(ms(k.RetireAt)).SetExpiresAt(ms(k.ExpiresAt)).
		Exec(ctx)
}

// publishedKeys returns the keys not expired at now, newest first.
func (s *store) publishedKeys(ctx context.Context, now time.Time) ([]*signingKey, error) {
	rows, err := s.pool.SigningKey.Query().Where(signingkey.ExpiresAtGT(ms(now))).
		Order(signingkey.ByCreatedAt(entsql.OrderDesc()), signingkey.ByID()).All(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]*signingKey, 0, len(rows))
	for _, r := range rows {
		seed, err := decodeSeed(r.PrivateSeed)
		if err != nil {
			return nil, fmt.Errorf("signing key %s: %w", r.ID, err)
		}
		out = append(out, &signingKey{Kid: r.ID, Seed: seed, CreatedAt: fromMS(r.CreatedAt), RetireAt: fromMS(r.RetireAt), ExpiresAt: fromMS(r.ExpiresAt)})
	}
	return out, nil
}

func (s *store) deleteExpiredKeys(ctx context.Context, now time.Time) error {
	_, err := s.pool.SigningKey.Delete().Where(signingkey.ExpiresAtLTE(ms(now))).Exec(ctx)
	return err
}

// oidcLogin is an OpenID Connect sign-in under way, found by the SHA-256 of its state.
type oidcLogin struct {
	StateHash string
	Provider  string
	Nonce     string
	Verifier  string
	ExpiresAt time.Time
}

// startOIDCLogin stores l and deletes the logins that expired before now.
func (s *store) startOIDCLogin(ctx context.Context, l *oidcLogin, now time.Time) error {
	err := s.pool.OidcLogin.Create().
		SetID(l.StateHash).SetProvider(l.Provider).SetNonce(l.Nonce).SetVerifier(l.Verifier).SetExpiresAt(ms(l.ExpiresAt)).
		Exec(ctx)
	if err != nil {
		return err
	}
	_, err = s.pool.OidcLogin.Delete().Where(oidclogin.ExpiresAtLT(ms(now))).Exec(ctx)
	return err
}

// takeOIDCLogin deletes and returns the login of provider with state hash stateHash; errNotFound
// when there is none (unknown, of another provider, or already taken).
func (s *store) takeOIDCLogin(ctx context.Context, c *authdb.Client, stateHash, provider string) (*oidcLogin, error) {
	r, err := c.OidcLogin.Query().Where(oidclogin.ID(stateHash), oidclogin.Provider(provider)).Only(ctx)
	if err != nil {
		return nil, notFound(err)
	}
	if err := c.OidcLogin.DeleteOneID(stateHash).Exec(ctx); err != nil {
		return nil, notFound(err)
	}
	return &oidcLogin{StateHash: r.ID, Provider: r.Provider, Nonce: r.Nonce, Verifier: r.Verifier, ExpiresAt: fromMS(r.ExpiresAt)}, nil
}

// identityUser returns the id of the user linked to subject at provider.
func (s *store) identityUser(ctx context.Context, c *authdb.Client, provider, subject string) (string, error) {
	r, err := c.UserIdentity.Query().Where(useridentity.Provider(provider), useridentity.Subject(subject)).Only(ctx)
	if err != nil {
		return "", notFound(err)
	}
	return r.UserID, nil
}

// linkIdentity links subject at provider to user userID.
func (s *store) linkIdentity(ctx context.Context, c *authdb.Client, provider, subject, userID string, at time.Time) error {
	return c.UserIdentity.Create().SetProvider(provider).SetSubject(subject).SetUserID(userID).SetCreatedAt(ms(at)).Exec(ctx)
}
