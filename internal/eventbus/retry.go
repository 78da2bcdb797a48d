package eventbus

import (
	"context"
	"time"

	"github.com/failsafe-go/failsafe-go"
	"github.com/failsafe-go/failsafe-go/retrypolicy"
)

// maxHandlerBackoff is the longest pause between two attempts of a handler that fails for a reason
// of the message's own (one opts.Transient does not recognise).
const maxHandlerBackoff = 30 * time.Second

// retryJitter is the share of each pause that is drawn at random, so that consumers which failed
// together do not retry together.
const retryJitter = 0.25

// transientBackoffMax is the longest pause before jitter between retries of a transient failure:
// jittered, it stays within TransientRetryMax.
const transientBackoffMax = time.Duration(float64(TransientRetryMax) / (1 + retryJitter))

// handleWithRetries runs call, the handler on one message, under the retry rules of opts, as two
// failsafe retry policies, one inside the other:
//
//   - the inner one retries the failures that are the message's fault (those opts.Transient does not
//     recognise), up to opts' MaxAttempts in all, with jittered backoff from opts.Backoff doubling up
//     to maxHandlerBackoff; then it gives up with the last error (the caller dead-letters);
//   - the outer one retries the transient failures (the handler's own dependency is down) for as long
//     as they last, with jittered backoff from opts.Backoff doubling, never more than
//     TransientRetryMax apart. They
//     never count towards MaxAttempts (the inner policy's count of attempts lives for the whole
//     execution and only grows on the failures it handles), so they never dead-letter a message.
//
// Nothing is retried once ctx has ended. onFailure, when set, sees every failure with whether it
// was transient. It returns nil once call succeeded, else the last error, with the number of attempts
// that counted (those that failed for the message's own reason, plus the successful one).
func handleWithRetries(ctx context.Context, opts SubscribeOptions, call func() error, onFailure func(err error, transient bool, attempt int)) (attempts int, err error) {
	most, backoff := opts.attempts()
	live := func(err error) bool { return err != nil && ctx.Err() == nil }
	transient := retrypolicy.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return live(err) && opts.transient(err) }).
		WithMaxRetries(-1).
		WithBackoff(backoff, max(backoff, transientBackoffMax)).
		WithJitterFactor(retryJitter).
		ReturnLastFailure().
		Build()
	message := retrypolicy.NewBuilder[any]().
		HandleIf(func(_ any, err error) bool { return live(err) && !opts.transient(err) }).
		WithMaxAttempts(most).
		WithBackoff(backoff, max(backoff, maxHandlerBackoff)).
		WithJitterFactor(retryJitter).
		ReturnLastFailure().
		Build()
	err = failsafe.With[any](transient, message).WithContext(ctx).Run(func() error {
		err := call()
		isTransient := err != nil && opts.transient(err)
		if !isTransient {
			attempts++
		}
		if err != nil && onFailure != nil {
			onFailure(err, isTransient, attempts)
		}
		return err
	})
	return attempts, err
}
