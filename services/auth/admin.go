package auth

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/mediamesh/mediamesh/gen/events/authevents"
	"github.com/mediamesh/mediamesh/internal/database"
)

// keepOneTimePassword writes the first ADMIN's generated password to Config.AdminPasswordFile
// (readable by the owner only), so a first start that fails after creating the account (a port in
// use, a missing dependency) does not lose it: every start logs it again until it is changed.
func (s *Service) keepOneTimePassword(password string) error {
	if s.cfg.AdminPasswordFile == "" {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(s.cfg.AdminPasswordFile), 0o700); err != nil {
		return err
	}
	return os.WriteFile(s.cfg.AdminPasswordFile, []byte(password+"\n"), 0o600)
}

// remindOneTimePassword logs the first ADMIN's one-time password again while the account still
// has it, and forgets it (removes the file) once the password was changed or reset.
func (s *Service) remindOneTimePassword(ctx context.Context) error {
	if s.cfg.AdminPasswordFile == "" {
		return nil
	}
	b, err := os.ReadFile(s.cfg.AdminPasswordFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	password := strings.TrimSpace(string(b))
	email := strings.ToLower(strings.TrimSpace(s.cfg.AdminEmail))
	u, err := s.store.userByEmail(ctx, s.store.pool, email)
	if err != nil && !errors.Is(err, errNotFound) {
		return err
	}
	if err == nil && !u.Disabled && password != "" {
		ok, err := s.hash.verify(ctx, u.PasswordHash, password)
		if err != nil {
			return err
		}
		if ok {
			s.log.Warn("the first ADMIN still has its one-time password; log in and change it", "email", email,
				"one_time_password", password, "kept_in", s.cfg.AdminPasswordFile)
			return nil
		}
	}
	return os.Remove(s.cfg.AdminPasswordFile)
}

// ResetPassword gives the account with email a new random password, directly on the auth database
// db while no auth service needs to answer (`mediamesh admin reset-password EMAIL`): the account is
// enabled, its sessions end, and its access tokens are revoked through the outbox (published when
// the service next runs); the account reports password_change_required until its user changes it.
// It returns the new password, which is stored only as a hash.
func ResetPassword(ctx context.Context, db *database.DB, email string) (string, error) {
	s := &Service{db: db, store: newStore(db), now: time.Now, hash: newHasher(1)}
	email = strings.ToLower(strings.TrimSpace(email))
	u, err := s.store.userByEmail(ctx, s.store.pool, email)
	if errors.Is(err, errNotFound) {
		return "", fmt.Errorf("no account has the email %q", email)
	}
	if err != nil {
		return "", err
	}
	password := randomToken(18)
	if u.PasswordHash, err = s.hash.hash(ctx, password); err != nil {
		return "", err
	}
	u.Disabled, u.PasswordChangeRequired = false, true
	u.Version++
	u.UpdatedAt = s.now()
	err = db.InTx(ctx, func(tx *sql.Tx) error {
		if err := s.store.updateUser(ctx, s.store.in(tx), u); err != nil {
			return err
		}
		if err := s.store.revokeUser(ctx, s.store.in(tx), u.ID, s.now()); err != nil {
			return err
		}
		return s.revokeTokens(ctx, tx, u.ID, authevents.RevocationReasonPasswordChanged)
	})
	if err != nil {
		return "", err
	}
	return password, nil
}
