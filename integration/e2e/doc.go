// Package e2e holds the end-to-end tests of the platform: each starts the composed process (app.Run,
// --target=all or one process per service on PostgreSQL, Redis and Kafka) or the mediamesh binary on
// loopback free ports, and drives it through the gateways as a client would. Tests that need a real
// PostgreSQL, Redis, Kafka, OpenSearch, S3 server or Chromium skip with the variable to set
// (internal/testenv), and fail instead under CI=true. The composition root's own logic (config,
// plan, module table) is tested beside it, in app/.
package e2e
