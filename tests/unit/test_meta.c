#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "cairn/manifest.h"
#include "format/manifest_format.h"
#include "fs/meta.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

/* An ACL in the kernel's xattr form, from (tag, perm) pairs. */
static size_t acl_bytes(uint8_t *out, const unsigned (*entries)[2], size_t n)
{
	size_t at = 0;
	memcpy(out, "\x02\0\0\0", 4);
	at = 4;
	for (size_t i = 0; i < n; i++) {
		out[at++] = (uint8_t)entries[i][0];
		out[at++] = 0;
		out[at++] = (uint8_t)entries[i][1];
		out[at++] = 0;
		memset(out + at, 0xff, 4);
		at += 4;
	}
	return at;
}

static void with_acl(cairn_entry *e, uint32_t mode, const uint8_t *acl, size_t len)
{
	memset(e, 0, sizeof(*e));
	e->type = CAIRN_ENTRY_FILE;
	e->mode = mode;
	e->xattrs = calloc(2, sizeof(*e->xattrs));
	assert_non_null(e->xattrs);
	e->xattrs[0].name = strdup("user.other");
	e->xattrs[1].name = strdup(CAIRN_XATTR_ACL_ACCESS);
	e->xattrs[1].value = malloc(len ? len : 1);
	assert_non_null(e->xattrs[1].value);
	memcpy(e->xattrs[1].value, acl, len);
	e->xattrs[1].value_len = len;
	e->n_xattrs = 2;
}

static void test_meta__an_acl_mask_never_widens_the_group_bits(void **state)
{
	(void)state;
	uint8_t acl[64];
	cairn_entry e;
	/* setfacl -m u:nobody:rw on a 0644 file: group::r--, mask::rw-, so
	 * the mode reads 0664; the owning group may only read. */
	static const unsigned named[][2] = {{0x01, 6}, {0x02, 6}, {0x04, 4}, {0x10, 6}, {0x20, 4}};
	with_acl(&e, 0664, acl, acl_bytes(acl, named, 5));
	assert_int_equal(cairn_entry_mode_without_acl(&e), 0644);
	cairn_entry_clear(&e);

	/* A mask narrower than the group entry: the mask wins. */
	static const unsigned masked[][2] = {{0x01, 7}, {0x04, 7}, {0x08, 7}, {0x10, 5}, {0x20, 0}};
	with_acl(&e, 04750, acl, acl_bytes(acl, masked, 5));
	assert_int_equal(cairn_entry_mode_without_acl(&e), 04750);
	cairn_entry_clear(&e);

	/* No mask: the group entry itself, never more than the mode has. */
	static const unsigned plain[][2] = {{0x01, 6}, {0x04, 7}, {0x20, 4}};
	with_acl(&e, 0644, acl, acl_bytes(acl, plain, 3));
	assert_int_equal(cairn_entry_mode_without_acl(&e), 0644);
	cairn_entry_clear(&e);
}

static void test_meta__an_unreadable_acl_leaves_the_group_nothing(void **state)
{
	(void)state;
	uint8_t acl[64];
	cairn_entry e;
	static const unsigned no_group[][2] = {{0x01, 6}, {0x10, 6}, {0x20, 4}};
	with_acl(&e, 0674, acl, acl_bytes(acl, no_group, 3));
	assert_int_equal(cairn_entry_mode_without_acl(&e), 0604);
	cairn_entry_clear(&e);

	static const unsigned ok[][2] = {{0x01, 6}, {0x04, 6}, {0x20, 4}};
	size_t len = acl_bytes(acl, ok, 3);
	acl[0] = 1; /* unknown version */
	with_acl(&e, 0664, acl, len);
	assert_int_equal(cairn_entry_mode_without_acl(&e), 0604);
	cairn_entry_clear(&e);
	acl[0] = 2;
	with_acl(&e, 0664, acl, len - 1); /* cut inside an entry */
	assert_int_equal(cairn_entry_mode_without_acl(&e), 0604);
	cairn_entry_clear(&e);
	with_acl(&e, 0664, acl, 0);
	assert_int_equal(cairn_entry_mode_without_acl(&e), 0604);
	cairn_entry_clear(&e);
}

static void test_meta__an_entry_without_an_acl_keeps_its_mode(void **state)
{
	(void)state;
	cairn_entry e;
	memset(&e, 0, sizeof(e));
	e.type = CAIRN_ENTRY_DIR;
	e.mode = 02775;
	assert_int_equal(cairn_entry_mode_without_acl(&e), 02775);
	assert_null(cairn_entry_acl(&e));
}

static void test_meta__keeps_the_namespaces_a_restore_can_set(void **state)
{
	(void)state;
	static const char *kept[] = {"user.a",    "security.capability",  "security.selinux",
	                             "trusted.x", CAIRN_XATTR_ACL_ACCESS, CAIRN_XATTR_ACL_DEFAULT};
	static const char *not_kept[] = {"system.nfs4_acl",
	                                 "system.sockprotoname",
	                                 "system.posix_acl_accessx",
	                                 "user",
	                                 "other.x",
	                                 ""};
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++)
		if (!cairn_xattr_kept(kept[i]))
			fail_msg("%s not kept", kept[i]);
	for (size_t i = 0; i < sizeof(not_kept) / sizeof(not_kept[0]); i++)
		if (cairn_xattr_kept(not_kept[i]))
			fail_msg("%s kept", not_kept[i]);
}

/* A real file: its user.* attributes and the flags its owner may set,
 * without the file system's own (ext4's extents flag). */
static void test_meta__reads_xattrs_and_flags_of_a_file_and_a_directory(void **state)
{
	(void)state;
	char dir[] = "/tmp/cairn-test-meta.XXXXXX", file[64];
	assert_non_null(mkdtemp(dir));
	snprintf(file, sizeof(file), "%s/f", dir);
	int fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	int xattrs = fsetxattr(fd, "user.k", "v", 1, 0) == 0;
	int flags = FS_NODUMP_FL | FS_NOATIME_FL, have = 0;
	int can_flag = ioctl(fd, FS_IOC_GETFLAGS, &have) == 0;
	flags |= have;
	can_flag = can_flag && ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0;

	cairn_entry e = {.type = CAIRN_ENTRY_FILE};
	assert_int_equal(cairn_read_attrs(&e, NULL, fd), 0);
	if (xattrs) {
		assert_int_equal(e.n_xattrs, 1);
		assert_string_equal(e.xattrs[0].name, "user.k");
	}
	if (can_flag)
		assert_int_equal(e.flags, CAIRN_MANIFEST_FLAG_NODUMP | CAIRN_MANIFEST_FLAG_NOATIME);
	cairn_entry_clear(&e);
	/* The same by path. */
	e.type = CAIRN_ENTRY_FILE;
	assert_int_equal(cairn_read_attrs(&e, file, -1), 0);
	assert_int_equal(e.n_xattrs, (size_t)xattrs);
	if (can_flag)
		assert_int_equal(e.flags, CAIRN_MANIFEST_FLAG_NODUMP | CAIRN_MANIFEST_FLAG_NOATIME);
	cairn_entry_clear(&e);
	/* A hard link's entry has no flags of its own. */
	e.type = CAIRN_ENTRY_HARDLINK;
	assert_int_equal(cairn_read_attrs(&e, file, -1), 0);
	assert_int_equal(e.flags, 0);
	cairn_entry_clear(&e);

	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_true(dfd >= 0);
	have = 0;
	int dir_flag = ioctl(dfd, FS_IOC_GETFLAGS, &have) == 0;
	have |= FS_NODUMP_FL;
	dir_flag = dir_flag && ioctl(dfd, FS_IOC_SETFLAGS, &have) == 0;
	close(dfd);
	e.type = CAIRN_ENTRY_DIR;
	assert_int_equal(cairn_read_attrs(&e, dir, -1), 0);
	if (dir_flag)
		assert_int_equal(e.flags, CAIRN_MANIFEST_FLAG_NODUMP);
	cairn_entry_clear(&e);

	close(fd);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_meta__an_acl_mask_never_widens_the_group_bits),
	    cmocka_unit_test(test_meta__an_unreadable_acl_leaves_the_group_nothing),
	    cmocka_unit_test(test_meta__an_entry_without_an_acl_keeps_its_mode),
	    cmocka_unit_test(test_meta__keeps_the_namespaces_a_restore_can_set),
	    cmocka_unit_test(test_meta__reads_xattrs_and_flags_of_a_file_and_a_directory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
