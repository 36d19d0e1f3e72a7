//go:build linux

package procstat

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// fsNames names, by statfs magic, the filesystems a store is likely to
// sit on.
var fsNames = map[uint32]string{
	unix.EXT4_SUPER_MAGIC:      "ext4", // ext2 and ext3 share it
	unix.XFS_SUPER_MAGIC:       "xfs",
	unix.BTRFS_SUPER_MAGIC:     "btrfs",
	unix.F2FS_SUPER_MAGIC:      "f2fs",
	unix.OVERLAYFS_SUPER_MAGIC: "overlayfs",
	unix.FUSE_SUPER_MAGIC:      "fuse",
	unix.NFS_SUPER_MAGIC:       "nfs",
	unix.TMPFS_MAGIC:           "tmpfs",
	unix.RAMFS_MAGIC:           "ramfs",
}

// FSType names the filesystem holding path ("ext4", "tmpfs", …; the
// statfs magic in hex for one it does not know).
func FSType(path string) (string, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return "", fmt.Errorf("procstat: statfs %s: %w", path, err)
	}
	magic := uint32(st.Type) // magics are 32-bit; Type is as wide as the arch makes it
	if name, ok := fsNames[magic]; ok {
		return name, nil
	}
	return fmt.Sprintf("0x%x", magic), nil
}
