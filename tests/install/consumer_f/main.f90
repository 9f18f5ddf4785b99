! A user of the installed libckpt from Fortran (ckpt_mod): `consumer_f write
! FILE.ini` checkpoints an array at step 5; `consumer_f restart FILE.ini`
! restores it and checks every value. Exit status 0 when every rank succeeded.
program consumer_f
  use mpi
  use ckpt_mod
  use, intrinsic :: iso_c_binding
  implicit none
  real(c_double), target :: field(500)
  integer(c_int64_t), target :: step
  integer(c_int64_t) :: version, saved_step
  integer(c_int) :: ierr
  integer :: rank, mpierr, i, ok, all_ok
  character(len=256) :: mode, config

  call MPI_Init(mpierr)
  call MPI_Comm_rank(MPI_COMM_WORLD, rank, mpierr)
  call get_command_argument(1, mode)
  call get_command_argument(2, config)
  ok = 0
  field = 0
  step = 0
  ierr = ckpt_init_f(int(MPI_COMM_WORLD, c_int), trim(config)//c_null_char)
  if (ierr == CKPT_SUCCESS) ierr = ckpt_protect(0, "field"//c_null_char, c_loc(field), &
                                                size(field, kind=c_size_t), CKPT_DOUBLE)
  if (ierr == CKPT_SUCCESS) ierr = ckpt_protect(1, "step"//c_null_char, c_loc(step), &
                                                1_c_size_t, CKPT_INT64)
  if (ierr == CKPT_SUCCESS) then
    if (trim(mode) == "write") then
      do i = 1, size(field)
        field(i) = real(i, c_double) * 0.5_c_double + 1000.0_c_double * rank
      end do
      step = 5
      ierr = ckpt_checkpoint(step)
      if (ierr == CKPT_SUCCESS) ok = 1
    else
      ierr = ckpt_restart(version, saved_step)
      if (ierr == CKPT_SUCCESS .and. saved_step == 5 .and. step == 5) ok = 1
      do i = 1, size(field)
        if (field(i) /= real(i, c_double) * 0.5_c_double + 1000.0_c_double * rank) ok = 0
      end do
    end if
  end if
  if (ok == 0) print '(a,i0,a,a)', "consumer_f [rank ", rank, "]: ", ckpt_error_message()
  ierr = ckpt_finalize()
  call MPI_Allreduce(ok, all_ok, 1, MPI_INTEGER, MPI_MIN, MPI_COMM_WORLD, mpierr)
  if (rank == 0) then
    if (all_ok == 1) then
      print '(a,a,a)', "Fortran consumer ", trim(mode), ": ok"
    else
      print '(a,a,a)', "Fortran consumer ", trim(mode), ": FAILED"
    end if
  end if
  call MPI_Finalize(mpierr)
  if (all_ok /= 1) error stop 1
end program consumer_f
