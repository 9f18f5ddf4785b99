! Checkpoint and restart from Fortran through ckpt_mod (iso_c_binding):
! run once to write, then again with "restart" to restore and compare.
program fortran_roundtrip
  use mpi
  use ckpt_mod
  use, intrinsic :: iso_c_binding
  implicit none
  real(c_double), target :: field(1000)
  integer(c_int64_t), target :: step
  ! A piece of a global (nranks*4) x 5 array: Fortran g(5, 4) is C [4][5].
  real(c_double), target :: g(5, 4)
  integer(c_size_t) :: gdims(2), goffset(2), glocal(2)
  integer :: nranks, j
  integer(c_int) :: ierr, have
  integer(c_int64_t) :: version, saved_step
  integer :: rank, mpierr, i
  character(len=16) :: mode

  call MPI_Init(mpierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, mpierr)
  call MPI_Comm_size(MPI_COMM_WORLD, nranks, mpierr)
  call get_command_argument(1, mode)

  ierr = ckpt_init_f(int(MPI_COMM_WORLD, c_int), "fortran.ini"//c_null_char)
  call check(ierr, "ckpt_init_f")
  ierr = ckpt_protect(0, "field"//c_null_char, c_loc(field), size(field, kind=c_size_t), CKPT_DOUBLE)
  call check(ierr, "ckpt_protect field")
  ierr = ckpt_set_tracking(0, CKPT_TRACKING_PAGES)
  call check(ierr, "ckpt_set_tracking field")
  ierr = ckpt_set_tracking(7, CKPT_TRACKING_HASH)
  if (ierr /= CKPT_ERR_ARGUMENT) call fail("ckpt_set_tracking of an unprotected region accepted")
  ierr = ckpt_protect(1, "step"//c_null_char, c_loc(step), 1_c_size_t, CKPT_INT64)
  call check(ierr, "ckpt_protect step")
  gdims = [int(4 * nranks, c_size_t), 5_c_size_t]   ! C order: rows, columns
  goffset = [int(4 * rank, c_size_t), 0_c_size_t]
  glocal = [4_c_size_t, 5_c_size_t]
  ierr = ckpt_protect_global(2, "g"//c_null_char, c_loc(g), CKPT_DOUBLE, 2, gdims, goffset, glocal)
  call check(ierr, "ckpt_protect_global g")

  if (trim(mode) == "restart") then
    ierr = ckpt_restart_available(have, version, saved_step)
    call check(ierr, "ckpt_restart_available")
    if (have /= 1 .or. saved_step /= 7) call fail("no checkpoint of step 7 found")
    field = 0
    step = 0
    g = -1
    ierr = ckpt_restart(version, saved_step)
    call check(ierr, "ckpt_restart")
    do i = 1, size(field)
      if (field(i) /= real(i + 1000 * rank, c_double) / 3.0_c_double) call fail("field differs")
    end do
    if (step /= 7) call fail("step differs")
    do i = 1, 4
      do j = 1, 5
        if (g(j, i) /= real((4 * rank + i - 1) * 5 + j - 1, c_double)) call fail("g differs")
      end do
    end do
    if (rank == 0) print '(a)', "fortran restart: OK"
  else
    do i = 1, size(field)
      field(i) = real(i + 1000 * rank, c_double) / 3.0_c_double
    end do
    step = 7
    do i = 1, 4
      do j = 1, 5
        g(j, i) = real((4 * rank + i - 1) * 5 + j - 1, c_double)
      end do
    end do
    ierr = ckpt_checkpoint(step)
    call check(ierr, "ckpt_checkpoint")
    ! A bad call reports a status and a message, never stops the program.
    ierr = ckpt_protect(-1, "bad"//c_null_char, c_loc(field), 1_c_size_t, CKPT_DOUBLE)
    if (ierr /= CKPT_ERR_ARGUMENT) call fail("negative id accepted")
    if (index(ckpt_error_message(), "negative") == 0) call fail("message: "//ckpt_error_message())
    if (rank == 0) print '(a)', "fortran checkpoint: OK"
  end if
  ierr = ckpt_finalize()
  call check(ierr, "ckpt_finalize")
  call MPI_Finalize(mpierr)

contains
  subroutine check(status, what)
    integer(c_int), intent(in) :: status
    character(len=*), intent(in) :: what
    if (status /= CKPT_SUCCESS) call fail(what//": "//ckpt_error_message())
  end subroutine
  subroutine fail(why)
    character(len=*), intent(in) :: why
    integer :: e
    print '(a,i0,a,a)', "rank ", rank, ": FAILED: ", why
    call MPI_Abort(MPI_COMM_WORLD, 1, e)
  end subroutine
end program
