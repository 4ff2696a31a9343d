// Command genlines writes N API Gateway access-log lines in the seed format
// (internal/accesslog SeedFormat), one JSON object per line, for parse-rate
// comparisons such as scripts/goaccess-baseline.sh.
//
// The traffic is realistic enough that a parser does representative work:
// a Zipf-skewed population of users with stable IPs, user agents and
// credentials (API keys, Cognito/Lambda authorizers, IAM, anonymous), routes
// carrying numeric, UUID and hex identifiers, a status mix, and timestamps
// spread over one day in requestTime format. It is not a traffic model: the
// output is deterministic for a given -seed and nothing more is promised.
//
// Usage:
//
//	go run ./scripts/genlines -n 1000000 -seed 1 -o lines.jsonl
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

// config holds the command's flags.
type config struct {
	n     int
	seed  uint64
	users int
	day   string
	out   string
}

// Validate reports the first flag that cannot produce output.
func (c config) Validate() error {
	if c.n < 0 {
		return fmt.Errorf("-n must be >= 0, got %d", c.n)
	}
	if c.users < 1 {
		return fmt.Errorf("-users must be >= 1, got %d", c.users)
	}
	if _, err := time.Parse(time.DateOnly, c.day); err != nil {
		return fmt.Errorf("-day: %w", err)
	}
	return nil
}

func main() {
	var c config
	flag.IntVar(&c.n, "n", 1000, "number of lines to write")
	flag.Uint64Var(&c.seed, "seed", 1, "random seed; the same seed gives the same lines")
	flag.IntVar(&c.users, "users", 20000, "size of the user population")
	flag.StringVar(&c.day, "day", "2026-11-25", "UTC day (YYYY-MM-DD) the requestTimes spread over")
	flag.StringVar(&c.out, "o", "-", "output file, - for stdout")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "genlines:", err)
		os.Exit(1)
	}
}

func run(c config) (err error) {
	if err := c.Validate(); err != nil {
		return err
	}
	var w io.Writer = os.Stdout
	if c.out != "-" {
		f, err := os.Create(c.out)
		if err != nil {
			return fmt.Errorf("create output: %w", err)
		}
		defer func() { err = errors.Join(err, f.Close()) }()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	day, _ := time.Parse(time.DateOnly, c.day) // checked by Validate
	if err := generate(bw, c.n, c.seed, c.users, day); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write output: %w", err)
	}
	return nil
}

// generate writes n lines whose requestTimes rise evenly through the 24
// hours from day, so the lines are in time order like one day's log.
func generate(w io.Writer, n int, seed uint64, users int, day time.Time) error {
	g := newGenerator(seed, users)
	buf := make([]byte, 0, 2048)
	for i := range n {
		offset := time.Duration(float64(i) / float64(max(n, 1)) * float64(24*time.Hour))
		buf = g.line(buf[:0], day.Add(offset))
		if _, err := w.Write(buf); err != nil {
			return fmt.Errorf("write line %d: %w", i+1, err)
		}
	}
	return nil
}
