//go:build !linux

package procstat

import "errors"

// FSType names the filesystem holding path; only Linux is supported.
func FSType(path string) (string, error) {
	return "", errors.New("procstat: filesystem type: only on Linux")
}
