-- True while an account has a password its user did not choose (the first ADMIN's one-time
-- password, or one `mediamesh admin reset-password` set); a password change clears it.
ALTER TABLE users ADD COLUMN password_change_required BOOLEAN NOT NULL DEFAULT FALSE;
