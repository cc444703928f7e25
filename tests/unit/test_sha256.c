/* Unit tests of sha256: the FIPS 180-4 examples and RFC 4231's HMAC-SHA256
 * test cases (the webhook test checks signatures against Python's hmac). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sha256.h"

static void digest_hex(const void *data, size_t n, char hex[65])
{
	struct sha256 s;
	uint8_t d[SHA256_LEN];

	sha256_init(&s);
	sha256_update(&s, data, n);
	sha256_final(&s, d);
	sha256_hex(d, hex);
}

static void fips_examples(void **state)
{
	char hex[65];
	static const char two_blocks[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	(void)state;
	digest_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	digest_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	digest_hex(two_blocks, strlen(two_blocks), hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

static void million_a_in_pieces(void **state)
{
	struct sha256 s;
	uint8_t d[SHA256_LEN], chunk[1000];
	char hex[65];

	(void)state;
	memset(chunk, 'a', sizeof(chunk));
	sha256_init(&s);
	for (int i = 0; i < 1000; i++)
		sha256_update(&s, chunk, sizeof(chunk));
	sha256_final(&s, d);
	sha256_hex(d, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void rfc4231(void **state)
{
	uint8_t key[131], d[SHA256_LEN];
	char hex[65];
	static const char big[] =
		"Test Using Larger Than Block-Size Key - Hash Key First";

	(void)state;
	/* Case 1 */
	memset(key, 0x0b, 20);
	hmac_sha256(key, 20, "Hi There", 8, d);
	sha256_hex(d, hex);
	assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	/* Case 2 */
	hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d);
	sha256_hex(d, hex);
	assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	/* Case 6: a key longer than a block is hashed first. */
	memset(key, 0xaa, sizeof(key));
	hmac_sha256(key, sizeof(key), big, strlen(big), d);
	sha256_hex(d, hex);
	assert_string_equal(hex, "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fips_examples),
		cmocka_unit_test(million_a_in_pieces),
		cmocka_unit_test(rfc4231),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
