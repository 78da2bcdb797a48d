package auth

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/internal/database"
)

//go:embed migrations
var migrationFiles embed.FS

// Migrations are the versioned migrations of the auth database; the caller applies them (with
// the outbox's) before New.
var Migrations = database.Migrations{Component: "auth", FS: migrationFiles}

var errNotFound = errors.New("not found")

// user is a row of the users table.
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

// store is the auth service's persistence; every method takes a querier so it runs inside or
// outside a transaction.
type store struct{ db *database.DB }

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

const userColumns = `id, email, display_name, password_hash, roles, disabled, locale, version, created_at, updated_at, last_login_at, password_change_required`

func scanUser(row interface{ Scan(...any) error }) (*user, error) {
	var u user
	var roles string
	var created, updated int64
	var last sql.NullInt64
	if err := row.Scan(&u.ID, &u.Email, &u.DisplayName, &u.PasswordHash, &roles, &u.Disabled, &u.Locale, &u.Version, &created, &updated, &last, &u.PasswordChangeRequired); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, errNotFound
		}
		return nil, err
	}
	u.Roles = splitRoles(roles)
	u.CreatedAt, u.UpdatedAt = fromMS(created), fromMS(updated)
	if last.Valid {
		t := fromMS(last.Int64)
		u.LastLoginAt = &t
	}
	return &u, nil
}

func splitRoles(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

func (s *store) userByID(ctx context.Context, q querier, id string) (*user, error) {
	return scanUser(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE id = ?`), id))
}

func (s *store) userByEmail(ctx context.Context, q querier, email string) (*user, error) {
	return scanUser(q.QueryRowContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE email = ?`), strings.ToLower(email)))
}

var errEmailTaken = errors.New("email taken")

func (s *store) insertUser(ctx context.Context, q querier, u *user) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		u.ID, strings.ToLower(u.Email), u.DisplayName, u.PasswordHash, strings.Join(u.Roles, ","), u.Disabled, u.Locale, u.Version,
		ms(u.CreatedAt), ms(u.UpdatedAt), nil, u.PasswordChangeRequired)
	if err != nil && database.IsUniqueViolation(err) {
		return errEmailTaken
	}
	return err
}

// updateUser writes u if the stored version is still u.Version-1 (optimistic concurrency).
func (s *store) updateUser(ctx context.Context, q querier, u *user) error {
	res, err := q.ExecContext(ctx, s.db.Rebind(`UPDATE users SET display_name = ?, password_hash = ?, roles = ?, disabled = ?, locale = ?, version = ?, updated_at = ?, password_change_required = ? WHERE id = ? AND version = ?`),
		u.DisplayName, u.PasswordHash, strings.Join(u.Roles, ","), u.Disabled, u.Locale, u.Version, ms(u.UpdatedAt), u.PasswordChangeRequired, u.ID, u.Version-1)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errStale
	}
	return nil
}

var errStale = errors.New("the user changed meanwhile")

func (s *store) touchLogin(ctx context.Context, q querier, id string, at time.Time) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`UPDATE users SET last_login_at = ? WHERE id = ?`), ms(at), id)
	return err
}

func (s *store) deleteUser(ctx context.Context, q querier, id string) error {
	if _, err := q.ExecContext(ctx, s.db.Rebind(`DELETE FROM refresh_tokens WHERE user_id = ?`), id); err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, s.db.Rebind(`DELETE FROM api_keys WHERE owner_id = ?`), id); err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, s.db.Rebind(`DELETE FROM user_identities WHERE user_id = ?`), id); err != nil {
		return err
	}
	res, err := q.ExecContext(ctx, s.db.Rebind(`DELETE FROM users WHERE id = ?`), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errNotFound
	}
	return nil
}

// enabledAdmins counts enabled users holding ADMIN.
func (s *store) enabledAdmins(ctx context.Context, q querier) (int, error) {
	var n int
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM users WHERE disabled = ? AND (',' || roles || ',') LIKE ?`), false, "%,ADMIN,%").Scan(&n)
	return n, err
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
	where, args := []string{"1 = 1"}, []any{}
	if f.Role != "" {
		where, args = append(where, "(',' || roles || ',') LIKE ?"), append(args, "%,"+f.Role+",%")
	}
	if f.Prefix != "" {
		where, args = append(where, "email LIKE ? ESCAPE '\\'"), append(args, likePrefix(strings.ToLower(f.Prefix)))
	}
	if f.Disabled != nil {
		where, args = append(where, "disabled = ?"), append(args, *f.Disabled)
	}
	if f.After != "" {
		where, args = append(where, "id > ?"), append(args, f.After)
	}
	args = append(args, f.Limit+1)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+userColumns+` FROM users WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*user
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

func likePrefix(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s) + "%"
}

// refreshToken is a row of refresh_tokens; the token itself is never stored, only its SHA-256.
type refreshToken struct {
	Hash      string
	FamilyID  string
	UserID    string
	IssuedAt  time.Time
	ExpiresAt time.Time
	Used      bool
	Revoked   bool
}

func (s *store) insertRefresh(ctx context.Context, q querier, t *refreshToken) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`INSERT INTO refresh_tokens (token_hash, family_id, user_id, issued_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		t.Hash, t.FamilyID, t.UserID, ms(t.IssuedAt), ms(t.ExpiresAt))
	return err
}

func (s *store) refreshByHash(ctx context.Context, q querier, hash string) (*refreshToken, error) {
	var t refreshToken
	var issued, expires int64
	var used, revoked sql.NullInt64
	err := q.QueryRowContext(ctx, s.db.Rebind(`SELECT token_hash, family_id, user_id, issued_at, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = ?`), hash).
		Scan(&t.Hash, &t.FamilyID, &t.UserID, &issued, &expires, &used, &revoked)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, err
	}
	t.IssuedAt, t.ExpiresAt, t.Used, t.Revoked = fromMS(issued), fromMS(expires), used.Valid, revoked.Valid
	return &t, nil
}

// markUsed consumes a refresh token; false when another request consumed it first.
func (s *store) markUsed(ctx context.Context, q querier, hash string, at time.Time) (bool, error) {
	res, err := q.ExecContext(ctx, s.db.Rebind(`UPDATE refresh_tokens SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND revoked_at IS NULL`), ms(at), hash)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (s *store) revokeFamily(ctx context.Context, q querier, family string, at time.Time) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`UPDATE refresh_tokens SET revoked_at = ? WHERE family_id = ? AND revoked_at IS NULL`), ms(at), family)
	return err
}

func (s *store) revokeUser(ctx context.Context, q querier, userID string, at time.Time) error {
	_, err := q.ExecContext(ctx, s.db.Rebind(`UPDATE refresh_tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL`), ms(at), userID)
	return err
}

// signingKey is a row of signing_keys.
type signingKey struct {
	Kid       string
	Seed      []byte
	CreatedAt time.Time
	RetireAt  time.Time // no longer used to sign after this
	ExpiresAt time.Time // no longer published after this
}

func (s *store) insertKey(ctx context.Context, k *signingKey) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO signing_keys (kid, private_seed, created_at, retire_at, expires_at) VALUES (?, ?, ?, ?, ?)`),
		k.Kid, encodeSeed(k.Seed), ms(k.CreatedAt), ms(k.RetireAt), ms(k.ExpiresAt))
	return err
}

// publishedKeys returns the keys not expired at now, newest first.
func (s *store) publishedKeys(ctx context.Context, now time.Time) ([]*signingKey, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT kid, private_seed, created_at, retire_at, expires_at FROM signing_keys WHERE expires_at > ? ORDER BY created_at DESC, kid`), ms(now))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*signingKey
	for rows.Next() {
		var k signingKey
		var seed string
		var c, r, e int64
		if err := rows.Scan(&k.Kid, &seed, &c, &r, &e); err != nil {
			return nil, err
		}
		if k.Seed, err = decodeSeed(seed); err != nil {
			return nil, fmt.Errorf("signing key %s: %w", k.Kid, err)
		}
		k.CreatedAt, k.RetireAt, k.ExpiresAt = fromMS(c), fromMS(r), fromMS(e)
		out = append(out, &k)
	}
	return out, rows.Err()
}

func (s *store) deleteExpiredKeys(ctx context.Context, now time.Time) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`DELETE FROM signing_keys WHERE expires_at <= ?`), ms(now))
	return err
}
