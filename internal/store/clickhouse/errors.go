package clickhouse

import (
	"errors"
	"fmt"

	chgo "github.com/ClickHouse/clickhouse-go/v2"

	"github.com/gatescope/gatescope/internal/store"
)

// ClickHouse error codes the store tells apart (ErrorCodes.cpp).
const (
	codeTableAlreadyExists       = 57
	codeTooManySimultaneousQuery = 202
	codeNoFreeConnection         = 203
	codeMemoryLimitExceeded      = 241
	codeTooManyParts             = 252
)

// retryable wraps a failed write in the store's retryable errors: the server
// said it is overloaded (ErrOverloaded), or anything else went wrong and the
// batch was not acknowledged, so a retry may succeed (ErrUnavailable).
// Firehose retries both, then backs the batch up to S3.
func retryable(op string, err error) error {
	if errors.Is(err, chgo.ErrAcquireConnTimeout) {
		// Every connection is busy: more batches are in flight than the
		// pool (MaxOpenConns) serves.
		return fmt.Errorf("%w: %s: %w", store.ErrOverloaded, op, err)
	}
	var ex *chgo.Exception
	if errors.As(err, &ex) {
		switch ex.Code {
		case codeTooManyParts, codeMemoryLimitExceeded, codeTooManySimultaneousQuery, codeNoFreeConnection:
			return fmt.Errorf("%w: %s: %w", store.ErrOverloaded, op, err)
		}
	}
	return fmt.Errorf("%w: %s: %w", store.ErrUnavailable, op, err)
}

func isOverloaded(err error) bool { return errors.Is(err, store.ErrOverloaded) }
