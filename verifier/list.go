package verifier

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"os"
	"sync"
	"time"
)

// DefaultWindow is how many addresses VerifyEach keeps in flight by default:
// enough to keep every MX host of a large list busy, small enough that
// memory stays flat however long the list is.
const DefaultWindow = 4096

// Spill lets VerifyEachSpill move finished rows that wait for a slower row
// ahead of them out of memory, into a temporary file.
type Spill[T any] struct {
	// Dir holds the temporary file; "" means os.TempDir().
	Dir string
	// Encode and Decode turn an item into bytes and back.
	Encode func(T) ([]byte, error)
	Decode func([]byte) (T, error)
}

// VerifyEach verifies the address of every item of items and calls emit
// with the item and its verdict, in input order. At most window items are in
// flight or waiting for their turn at once (DefaultWindow when window <= 0),
// so a list of any length is streamed in constant memory; within the window,
// addresses are grouped by MX host and verified concurrently. emit runs on
// the caller's goroutine; an error from it stops the run and is returned.
// Cancelling ctx stops reading items; items already read still reach emit,
// with unknown verdicts if they were cut short.
//
// A slow row (a tarpit, a greylisted address) holds back the rows behind
// it once the window is full; VerifyEachSpill does not.
func VerifyEach[T any](ctx context.Context, v *Verifier, window int, items iter.Seq[T], address func(T) string, emit func(T, Verdict) error) error {
	return verifyEach(ctx, v, window, nil, items, address, emit)
}

// VerifyEachSpill is VerifyEach without head-of-line blocking: at most
// window items are being verified, and finished rows no longer count
// against it. Up to window finished rows wait in memory for the rows ahead
// of them; more are written to a temporary file (removed on return) and
// read back in order, so memory stays flat (plus 16 bytes of index per
// spilled row) while a slow row ahead waits. A greylisted address waiting
// for its retry timer does not take a window slot either.
func VerifyEachSpill[T any](ctx context.Context, v *Verifier, window int, spill Spill[T], items iter.Seq[T], address func(T) string, emit func(T, Verdict) error) error {
	return verifyEach(ctx, v, window, &spill, items, address, emit)
}

type finished[T any] struct {
	idx  int
	item T
	vd   Verdict
}

// parkKey carries, in a Verify call's context, the function that gives up
// the call's window slot while the address waits for a retry timer.
type parkKey struct{}

func verifyEach[T any](ctx context.Context, v *Verifier, window int, spill *Spill[T], items iter.Seq[T], address func(T) string, emit func(T, Verdict) error) error {
	if window <= 0 {
		window = DefaultWindow
	}
	slots := make(chan struct{}, window)   // one per item being verified
	results := make(chan finished[T], 256) // finished items, any order
	stop := make(chan struct{})            // closed when emit failed: stop reading
	var wg sync.WaitGroup
	var parkedN int64 // calls that gave up their slot, capped below
	var parkMu sync.Mutex
	go func() {
		defer func() { wg.Wait(); close(results) }()
		idx := 0
		for it := range items {
			if ctx.Err() != nil {
				return
			}
			select {
			case slots <- struct{}{}:
			case <-stop:
				return
			}
			i := idx
			idx++
			wg.Go(func() {
				var once sync.Once
				release := func() { once.Do(func() { <-slots }) }
				vctx := ctx
				if spill != nil {
					vctx = context.WithValue(ctx, parkKey{}, func() {
						// Waiting is not working: a greylisted address
						// gives its slot to the next row. Bounded, so a
						// list that greylists everywhere stays flat.
						parkMu.Lock()
						ok := parkedN < int64(8*window)
						if ok {
							parkedN++
						}
						parkMu.Unlock()
						if ok {
							release()
						}
					})
				}
				vd := v.Verify(vctx, address(it))
				if spill != nil {
					// Without a spill file a finished row keeps its slot
					// until it is emitted (see below).
					release()
				}
				results <- finished[T]{idx: i, item: it, vd: vd}
			})
		}
	}()

	held := map[int]finished[T]{}
	var sp *spillFile[T]
	if spill != nil {
		defer func() {
			if sp != nil {
				sp.close()
			}
		}()
	}
	next := 0
	var err error
	for r := range results {
		if err != nil {
			continue // drain, so no goroutine is left blocked
		}
		held[r.idx] = r
		if spill != nil && len(held) > window {
			if sp == nil {
				if sp, err = newSpillFile(spill); err != nil {
					close(stop)
					continue
				}
			}
			// Keep the rows that come next in memory (fewer than half a
			// window: their indexes are distinct and below
			// next+window/2); spill the rest.
			for i, f := range held {
				if i >= next+window/2 {
					if err = sp.put(f); err != nil {
						close(stop)
						break
					}
					delete(held, i)
				}
			}
			if err != nil {
				continue
			}
		}
		for err == nil {
			f, ok := held[next]
			if ok {
				delete(held, next)
			} else if sp != nil && sp.has(next) {
				if f, err = sp.get(next); err != nil {
					close(stop)
					break
				}
			} else {
				break
			}
			if spill == nil {
				<-slots
			}
			if err = emit(f.item, f.vd); err != nil {
				close(stop)
				break
			}
			next++
		}
	}
	return err
}

// spillFile holds finished rows on disk until their turn.
type spillFile[T any] struct {
	s       *Spill[T]
	f       *os.File
	w       *bufio.Writer
	end     int64
	flushed int64            // bytes of the file written through w
	at      map[int][2]int64 // idx -> offset, length
}

func newSpillFile[T any](s *Spill[T]) (*spillFile[T], error) {
	f, err := os.CreateTemp(s.Dir, "touchline-verify-*.spill")
	if err != nil {
		return nil, fmt.Errorf("verifier: spill file: %w", err)
	}
	return &spillFile[T]{s: s, f: f, w: bufio.NewWriterSize(f, 64<<10), at: map[int][2]int64{}}, nil
}

func (sp *spillFile[T]) has(idx int) bool { _, ok := sp.at[idx]; return ok }

func (sp *spillFile[T]) put(f finished[T]) error {
	item, err := sp.s.Encode(f.item)
	if err != nil {
		return fmt.Errorf("verifier: spill: %w", err)
	}
	vd, err := json.Marshal(f.vd)
	if err != nil {
		return fmt.Errorf("verifier: spill: %w", err)
	}
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(item)))
	rec := append(append(n[:], item...), vd...)
	if _, err := sp.w.Write(rec); err != nil {
		return fmt.Errorf("verifier: spill: %w", err)
	}
	sp.at[f.idx] = [2]int64{sp.end, int64(len(rec))}
	sp.end += int64(len(rec))
	return nil
}

func (sp *spillFile[T]) get(idx int) (finished[T], error) {
	loc := sp.at[idx]
	delete(sp.at, idx)
	if loc[0]+loc[1] > sp.flushed {
		if err := sp.w.Flush(); err != nil {
			return finished[T]{}, fmt.Errorf("verifier: spill: %w", err)
		}
		sp.flushed = sp.end
	}
	rec := make([]byte, loc[1])
	if _, err := sp.f.ReadAt(rec, loc[0]); err != nil && err != io.EOF {
		return finished[T]{}, fmt.Errorf("verifier: spill: %w", err)
	}
	n := binary.LittleEndian.Uint32(rec)
	item, err := sp.s.Decode(rec[4 : 4+n])
	if err != nil {
		return finished[T]{}, fmt.Errorf("verifier: spill: %w", err)
	}
	f := finished[T]{idx: idx, item: item}
	if err := json.Unmarshal(rec[4+n:], &f.vd); err != nil {
		return finished[T]{}, fmt.Errorf("verifier: spill: %w", err)
	}
	f.vd.Elapsed = time.Duration(f.vd.ElapsedMS) * time.Millisecond
	return f, nil
}

func (sp *spillFile[T]) close() {
	sp.f.Close()
	os.Remove(sp.f.Name())
}
