#include <archive.h>
#include <archive_entry.h>

/* AE_IFREG is a cast expression, which Swift does not import as a constant. */
static const unsigned int carchive_regular_file = AE_IFREG;
