package auth

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestHasher(t *testing.T) {
	h := newHasher(2)
	ctx := context.Background()
	enc, err := h.hash(ctx, "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("encoding %q", enc)
	}
	if ok, err := h.verify(ctx, enc, "correct horse battery"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := h.verify(ctx, enc, "correct horse batterY"); ok {
		t.Fatal("wrong password accepted")
	}
	if ok, err := h.verify(ctx, "", "anything"); ok || err != nil {
		t.Fatalf("unknown account: %v %v", ok, err)
	}
	for _, bad := range []string{"$argon2i$v=19$m=1,t=1,p=1$AA$AA", "$argon2id$v=19$m=x$AA$AA", "plain", "$argon2id$v=19$m=19456,t=2,p=1$!!$AA"} {
		if _, err := h.verify(ctx, bad, "x"); err == nil {
			t.Errorf("malformed %q accepted", bad)
		}
	}
	enc2, _ := h.hash(ctx, "correct horse battery")
	if enc2 == enc {
		t.Fatal("two hashes of one password share a salt")
	}
}

func TestHasherBoundsConcurrency(t *testing.T) {
	h := newHasher(2)
	var running, peak atomic.Int32
	// Wrap acquire/release through the slots channel: count holders while hashing.
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := h.acquire(context.Background()); err != nil {
				t.Error(err)
				return
			}
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			h.release()
		}()
	}
	wg.Wait()
	if peak.Load() > 2 {
		t.Fatalf("%d hashes ran at once, bound is 2", peak.Load())
	}
	// A caller that gives up while waiting gets its context error, not a hang.
	h.slots <- struct{}{}
	h.slots <- struct{}{}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := h.hash(ctx, "x"); err == nil {
		t.Fatal("hash with all slots taken and a dead context must fail")
	}
}
