package app

import (
	"context"
	"fmt"

	"github.com/mediamesh/mediamesh/internal/database"
	"github.com/mediamesh/mediamesh/services/auth"
)

// FirstAdminPasswordFile is where, under data_dir, the auth service keeps the first ADMIN's
// generated one-time password until it is changed (every start logs it again meanwhile), so a
// first start that fails after creating the account does not lose it.
const FirstAdminPasswordFile = "first-admin-password"

// ResetPassword gives the account with email a new random password on the auth database of cfg
// (services.auth.database_url, or the embedded one under data_dir), with no server running: for a
// lost ADMIN password (`mediamesh admin reset-password EMAIL`). The account is enabled and its
// sessions and tokens revoked. It returns the new password.
func ResetPassword(ctx context.Context, cfg Config, email string) (string, error) {
	db, err := database.Open(ctx, cfg.databaseURL(ServiceAuth))
	if err != nil {
		return "", fmt.Errorf("auth database: %w", err)
	}
	defer db.Close()
	for _, m := range migrations(ServiceAuth, db.Dialect) {
		pending, err := db.Pending(ctx, m.Component, m.FS)
		if err != nil {
			return "", fmt.Errorf("auth database, %s migrations: %w", m.Component, err)
		}
		if len(pending) > 0 {
			return "", fmt.Errorf("the auth database at %s has %d pending migration(s): start mediamesh (or `mediamesh migrate`) once first", cfg.databaseURL(ServiceAuth), len(pending))
		}
	}
	return auth.ResetPassword(ctx, db, email)
}
