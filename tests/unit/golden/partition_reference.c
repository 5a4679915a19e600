/* Independent reference for the golden partition vectors in test_partition.py.
 * jump_consistent_hash is the code of Lamping and Veach, "A Fast, Minimal Memory, Consistent
 * Hash Algorithm" (2014), figure 1; fnv1a_64 follows the FNV specification (as Go's hash/fnv).
 * Build and run: gcc -O2 -o /tmp/partition_reference partition_reference.c &&
 *   /tmp/partition_reference < keys.txt   (one UTF-8 key per line)
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t fnv1a_64(const unsigned char *data, size_t length) {
    uint64_t hash = 14695981039346656037ULL;
    for (size_t i = 0; i < length; i++) {
        hash ^= data[i];
        hash *= 1099511628211ULL;
    }
    return hash;
}

static int32_t jump_consistent_hash(uint64_t key, int32_t num_buckets) {
    int64_t b = -1, j = 0;
    while (j < num_buckets) {
        b = j;
        key = key * 2862933555777941757ULL + 1;
        j = (b + 1) * ((double)(1LL << 31) / (double)((key >> 33) + 1));
    }
    return (int32_t)b;
}

int main(void) {
    static const int32_t counts[] = {1, 2, 7, 16, 64, 1024};
    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        size_t length = strcspn(line, "\n");
        line[length] = '\0';
        uint64_t hash = fnv1a_64((const unsigned char *)line, length);
        printf("%s\t%016llx", line, (unsigned long long)hash);
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
            printf("\t%d", jump_consistent_hash(hash, counts[i]));
        printf("\n");
    }
    return 0;
}
