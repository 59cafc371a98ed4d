/*
 * driver_globals.c - the globals the labs' own drivers define, which students' files use.
 *
 * The handouts link mm.o into mdriver, whose mdriver.c defines `int verbose` (its -v and -V flags:
 * CS:APP, CMU F20) and, in CS:APP's, `char msg[MAXLINE]`: a file that declares them extern links
 * and runs there, and a 2015 CS:APP solution reads `verbose` in its heap check (58 under its
 * driver, "undefined reference to `verbose'" and 0 here: lab check run 15). They are defined in
 * the heap's library, which every allocator links with: verbose 0, as the CS:APP driver grades
 * (the F20 driver starts at 1, which only a file's own printing would show), msg empty, in every
 * lab (a CMU file using msg, which its driver lacks, is not refused). A file that defines its own
 * keeps its own (a student's library is linked -Bsymbolic); those of these a file uses count as its
 * global data (elf.borrowed_data_bytes: 1 KiB of list heads kept in msg dodged CMU's deduction,
 * red-team pass 26); nothing of the engine reads them.
 */
int verbose = 0;
char msg[1024]; /* the CS:APP driver's MAXLINE */
